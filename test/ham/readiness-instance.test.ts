// Readiness belongs to the instance that said it, with real processes: a
// newline on the fd FIFO from an earlier instance's leftover child (it escaped
// the group and still holds fd 3) does not make the next instance ready; and
// `ham reload --wait` is not ended by the READY=1 of an earlier reload that
// was still under way when its signal went.
import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { parseReadyState, type ReadyState } from '../../src/keeper/ready-state.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, ham, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
const started: number[] = [];
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => {
  for (const pid of started.splice(0))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  t.cleanup(ctx);
});
const at = (f: string): string => join(t.home, f);

/** Every readiness state a keeper of this home wrote (one per keeper folder). */
function states(): ReadyState[] {
  const dir = at('run/keepers');
  return readdirSync(dir).flatMap((k) => {
    const f = join(dir, k, 'ready');
    const s = existsSync(f) ? parseReadyState(readFileSync(f, 'utf8')) : null;
    return s ? [s] : [];
  });
}

it("fd readiness: a newline from the first instance's leftover child does not make the second instance ready", async () => {
  // Instance 1 leaves a child in a session of its own (holding fd 3, as a careless daemon would),
  // says it is ready, and dies once told. Instance 2 never says it is ready: it dies once the
  // leftover has written its newline (once `go` exists). Instance 3 sleeps.
  const leftover = `echo $$ > ${at('leftover')}; while [ ! -e ${at('go')} ]; do sleep 0.05; done; echo >&3; touch ${at('wrote')}; exec perl -e 'sleep 1000' ${t.home}`;
  const first = `touch ${at('first')}; setsid sh -c "${leftover}" >/dev/null 2>&1 & echo >&3; while [ ! -e ${at('die')} ]; do sleep 0.05; done; exit 1`;
  const second = `touch ${at('second')}; while [ ! -e ${at('wrote')} ]; do sleep 0.05; done; exit 1`;
  const script = `if [ ! -e ${at('first')} ]; then ${first}; elif [ ! -e ${at('second')} ]; then ${second}; fi; exec perl -e 'sleep 1000' ${t.home}`;
  await applyConfig(t.home, {
    entities: {
      srv: {
        command: ['sh', '-c', script],
        readiness: { fd: 3, timeoutMs: 120_000 },
        conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
      },
    },
  });
  await waitStatus(t.home, 'instance 1 ready', (s) => entity(s, 'srv').instance === 1 && entity(s, 'srv').ready);
  writeFileSync(at('die'), '');
  await waitStatus(t.home, 'instance 2 starting', (s) => entity(s, 'srv').instance === 2 && entity(s, 'srv').state === 'starting');
  await waitFor('the leftover up', () => existsSync(at('leftover')) && readFileSync(at('leftover'), 'utf8').trim());
  started.push(Number(readFileSync(at('leftover'), 'utf8').trim()));
  writeFileSync(at('go'), '');
  // Its keeper reads the FIFO before it reports a death it sees after the newline, and instance 3
  // says nothing: once instance 3 runs, what the newline did to instance 2 is in its keeper's state.
  const s = await waitStatus(t.home, 'instance 3 starting', (x) => entity(x, 'srv').instance === 3 && entity(x, 'srv').state === 'starting');
  expect(entity(s, 'srv')).toMatchObject({ deaths: 2, ready: false });
  expect(states().filter((x) => x.instance === 2 && x.ready)).toEqual([]);
  expect(readFileSync(at('logs/ham.log'), 'utf8')).not.toMatch(/"msg":"ready","entity":"srv","instance":2/);
});

it("reload --wait: the READY=1 that ends an earlier reload is not this reload's end", async () => {
  // HUP 1: RELOADING=1, and READY=1 once `finish1` exists. HUP 2: noted (`hup2`), never answered.
  const pl = [
    'use Socket; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; my $a = pack_sockaddr_un($ENV{NOTIFY_SOCKET});',
    'my ($h, $r1, $n2, $d1) = (0); $SIG{HUP} = sub { $h++ }; send($s, "READY=1", 0, $a) or die $!;',
    'while (1) { if ($h >= 1 && !$r1) { send($s, "RELOADING=1", 0, $a); $r1 = 1 }',
    'if ($h >= 2 && !$n2) { open(my $f, ">", "$ARGV[0]/hup2"); close $f; $n2 = 1 }',
    'if ($r1 && !$d1 && -e "$ARGV[0]/finish1") { send($s, "READY=1", 0, $a); $d1 = 1 } select(undef, undef, undef, 0.05) }',
  ].join(' ');
  await applyConfig(t.home, { entities: { web: { command: ['perl', '-e', pl, t.home], readiness: { notify: true, timeoutMs: 4000 } } } });
  await waitStatus(t.home, 'ready', (x) => entity(x, 'web').ready);
  await hamJson(t.home, ['reload', 'web']);
  await waitStatus(t.home, 'reload 1 under way', (x) => entity(x, 'web').keeperReady?.reloading === true);
  const second = ham(t.home, ['--json', 'reload', 'web', '--wait']);
  await waitFor('HUP 2 came', () => existsSync(at('hup2')));
  writeFileSync(at('finish1'), ''); // the first reload ends now: not the second's end
  await waitStatus(t.home, 'reload 1 done', (x) => entity(x, 'web').keeperReady?.reloading === false && (entity(x, 'web').keeperReady?.reloaded ?? 0) === 1);
  const r = await second;
  expect(r.code).toBe(1);
  expect(JSON.parse(r.stdout).error).toEqual({
    code: 'timeout',
    entity: 'web',
    message: 'reload web: expected READY=1 after RELOADING=1 within 4000 ms (its readiness timeoutMs), no RELOADING=1 seen since the signal',
  });
});
