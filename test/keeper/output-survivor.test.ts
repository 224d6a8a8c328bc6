// An entity's output is a FIFO that only its keeper reads (or, once the keeper lets the entity go, a
// drainer). A process of the entity that outlives its main process (here one that left the group
// with setsid, as a daemonizing program does) must still be read: its own read-write end means no
// SIGPIPE/EPIPE, so with nobody reading it would block for ever once the pipe is full. Through the
// HAM: detached, and dead with no restart (the keeper is told to exit). And the documented limit:
// a keeper SIGKILLed while the pair is down leaves nobody reading until the next `ham start`.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { findProcesses } from '../../src/proc/procfs.js';
import { hamJson, keepersWith, procsWith, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';
import { entity } from '../helpers/entities.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

const drains = (): number[] => findProcesses((a) => a[0]!.startsWith('ham-log-drain') && a[0]!.includes(t.home));

// A setsid child that waits for `go`, writes 3 MB (past any pipe buffer), then makes `done`; the main process sleeps.
const SURVIVOR =
  'use POSIX; if (!fork) { setsid(); select(undef,undef,undef,0.1) until -e $ARGV[0]; $| = 1; print "x" x 1000, "\\n" for 1..3000; open my $f, ">", $ARGV[1]; close $f; exit 0 } sleep 100000';

/** A pair with `web` running SURVIVOR: its files `go` and `done`, its marker (in its command line), its pid. */
async function startSurvivor(): Promise<{ go: string; done: string; marker: string; pid: number }> {
  t = tempHome();
  const [go, done, marker] = [join(t.home, 'go'), join(t.home, 'done'), join(t.home, 'web')];
  await hamJson(t.home, ['start']);
  await hamJson(t.home, ['attach', 'web', '--', 'perl', '-e', SURVIVOR, go, done, marker]);
  await waitFor('web running', async () => entity(await status(t.home), 'web').state === 'running', 30_000);
  // Forked: a main process killed before it forks (a slow perl start on a loaded machine) leaves no survivor.
  await waitFor('its setsid child there', () => procsWith(marker).length === 2, 30_000);
  return { go, done, marker, pid: entity(await status(t.home), 'web').pid! };
}

async function survivorWrites(go: string, done: string): Promise<void> {
  writeFileSync(go, '');
  await waitFor('the survivor wrote 3 MB and finished', () => existsSync(done), 60_000).catch((e: Error) => {
    process.stderr.write(execSync(`ps -eo pid,stat,wchan:20,args | grep -v grep | grep ${go} || true`).toString());
    throw e;
  });
  await waitFor('no drainer left once it ended', () => drains().length === 0, 30_000);
  const lines = readFileSync(join(t.home, 'logs', 'web', 'current'), 'utf8').split('\n');
  expect(lines.filter((l) => / out \d+ x{1000}$/.test(l))).toHaveLength(3000);
}

it('a survivor of a detached entity can still write its output', async () => {
  const { go, done, marker, pid } = await startSurvivor();
  await hamJson(t.home, ['detach', 'web']); // its keeper drains its output
  await waitFor('its keeper a drainer', () => keepersWith(marker).length === 0 && drains().length === 1, 30_000);
  process.kill(pid, 'SIGKILL'); // the main process ends; its setsid child lives on
  await survivorWrites(go, done);
}, 120_000);

it('a survivor of an entity that died and is not restarted can still write its output', async () => {
  const { go, done, marker, pid } = await startSurvivor();
  process.kill(pid, 'SIGKILL'); // no --restart: its keeper is told to exit
  let last = '';
  await waitFor(
    'web dead and its keeper a drainer',
    async () => {
      const state = entity(await status(t.home), 'web').state;
      last = `state ${state}, keepers ${keepersWith(marker).length}, drains ${drains().length}`;
      return state === 'dead' && keepersWith(marker).length === 0 && drains().length === 1;
    },
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${last}`);
  });
  await survivorWrites(go, done);
}, 120_000);

// stop --all stops each entity (its main process), answers its death record `x` (its keeper turns
// drain, closing its ctl), and once all are stopped releases every keeper it still finds alive: one
// whose ctl is closed by then gets SIGUSR1. The drain must ignore it. Several entities, so that the
// first ones' keepers are drains before the release (with one, the release mostly found its ctl open).
it.each([
  ['the C keeper', {}],
  ['keeper.pl', { HAM_KEEPER: 'perl' }],
])(
  '%s: `ham stop --all` while survivors of the entities write: their later lines still land, none blocks',
  async (_kind, env) => {
    t = tempHome();
    const go = join(t.home, 'go');
    const names = Array.from({ length: 6 }, (_, i) => `w${i}`);
    await hamJson(t.home, ['start'], env);
    for (const n of names) await hamJson(t.home, ['attach', n, '--', 'perl', '-e', SURVIVOR, go, join(t.home, `${n}.done`), join(t.home, n)]);
    await waitFor('each one and its setsid child there', () => names.every((n) => procsWith(join(t.home, n)).length === 2), 60_000);
    await hamJson(t.home, ['stop', '--all']);
    expect(names.flatMap((n) => keepersWith(join(t.home, n)))).toHaveLength(0);
    expect(drains()).toHaveLength(names.length); // all still there: the detach ended none
    writeFileSync(go, ''); // 3 MB each, written after the stop
    await waitFor('every survivor wrote 3 MB and finished', () => names.every((n) => existsSync(join(t.home, `${n}.done`))), 90_000);
    await waitFor('no drainer left once they ended', () => drains().length === 0, 30_000);
    for (const n of names) {
      const lines = readFileSync(join(t.home, 'logs', n, 'current'), 'utf8').split('\n');
      expect(lines.filter((l) => / out \d+ x{1000}$/.test(l))).toHaveLength(3000);
    }
  },
  180_000,
);

it('an entity whose keeper was killed while the pair is down writes on once the next `ham start` adopts it', async () => {
  t = tempHome();
  const marker = join(t.home, 'w');
  const count = join(t.home, 'count');
  await hamJson(t.home, ['start']);
  // Writes 1000-byte lines and counts them in a file (its progress), forever.
  const script =
    '$| = 1; for (my $i = 1; ; $i++) { print "x" x 1000, "\\n"; if ($i % 100 == 0) { open my $f, ">", $ARGV[0]; print $f $i; close $f } select(undef,undef,undef,0.001) }';
  await hamJson(t.home, ['attach', 'w', '--', 'perl', '-e', script, count, marker]);
  await waitFor('w running', async () => entity(await status(t.home), 'w').state === 'running', 30_000);
  await hamJson(t.home, ['stop']); // the pair goes; entities and their keepers stay
  const [keeper] = keepersWith(marker);
  expect(keeper).toBeGreaterThan(0);
  process.kill(keeper!, 'SIGKILL');
  await waitFor('its keeper gone', () => keepersWith(marker).length === 0, 30_000);
  // Documented (README, Output): nobody reads now; a chatty entity blocks once the pipe is full.
  await hamJson(t.home, ['start']);
  await waitFor('a keeper adopted it', () => keepersWith(marker).length === 1, 30_000);
  const at = (): number => Number(readFileSync(count, 'utf8') || 0);
  const then = at();
  // 3000 more lines (3 MB: past any pipe buffer) in a generous deadline.
  await waitFor('w writing again', () => at() > then + 3000, 60_000);
}, 120_000);

it('the name attached again while its drain lives: one reader (the drain leaves), every line once under one instance', async () => {
  const { go, done, marker, pid } = await startSurvivor();
  await hamJson(t.home, ['detach', 'web']);
  await waitFor('its keeper a drainer', () => keepersWith(marker).length === 0 && drains().length === 1, 30_000);
  process.kill(pid, 'SIGKILL'); // the drain lingers: the setsid child holds the FIFOs
  const script = '$| = 1; printf "n %07d\\n", $_ for 1..5000; sleep 100000';
  await hamJson(t.home, ['attach', 'web', '--', 'perl', '-e', script, marker]);
  const plain = (): string[] =>
    readFileSync(join(t.home, 'logs', 'web', 'current'), 'utf8')
      .split('\n')
      .filter((l) => / out \d+ n \d{7}$/.test(l));
  await waitFor('the new command wrote', () => plain().length >= 5000, 60_000);
  await waitFor('the drain gone', () => drains().length === 0, 30_000);
  const lines = plain();
  expect(new Set(lines.map((l) => l.split(' ')[2])).size).toBe(1); // one instance
  expect(lines.map((l) => l.split(' ')[3] + ' ' + l.split(' ')[4])).toEqual(Array.from({ length: 5000 }, (_, i) => `n ${String(i + 1).padStart(7, '0')}`));
  await survivorWrites(go, done); // and the survivor, read by the new keeper, is not blocked
}, 120_000);

it('a survivor writing as the detached main process ends: every line kept whole (none cut at the drain going on alone)', async () => {
  const { go, done, marker, pid } = await startSurvivor();
  await hamJson(t.home, ['detach', 'web']);
  await waitFor('its keeper a drainer', () => keepersWith(marker).length === 0 && drains().length === 1, 30_000);
  writeFileSync(go, ''); // the survivor writes its 3 MB now...
  await waitFor('some of it read', () => /x{1000}/.test(readFileSync(join(t.home, 'logs', 'web', 'current'), 'utf8')), 30_000);
  process.kill(pid, 'SIGKILL'); // ...and the main process ends in the middle of it
  await survivorWrites(go, done);
}, 120_000);
