// What the HAM spawns inherits none of its fds (review finding: LMDB's
// data.mdb, opened without O_CLOEXEC, reached every child): each kind of
// child lists its own /proc/self/fd (an execute action, a readiness command,
// a check, a stream detector, an entity under its keeper), and the helper
// processes (keepers, launcher, check runner, the Guardian) are read from
// /proc. `ham start` is given an extra fd of ours as well: passed to us by
// whoever started us, it is not for what we spawn either.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_MAIN, LAUNCHER_BINARY, RUNNER_SCRIPT } from '../../src/paths.js';
import { childrenOf, findProcesses } from '../../src/proc/procfs.js';
import { putDetector } from '../helpers/detectors.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, hamJson, keepersWith, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

/** Perl that writes its own fds (number and target) into the file $f, whole (a rename). */
const BODY =
  'opendir(my $d, "/proc/self/fd") or die; my @l = map { "$_ " . (readlink("/proc/self/fd/$_") // "?") } grep { /^\\d+$/ } readdir($d); ' +
  'open(my $o, ">", "$f.tmp") or die; print $o join("\\n", @l), "\\n"; close $o; rename("$f.tmp", $f) or die;';
/** The same, into the file named by its first argument. */
const LIST = `my $f = $ARGV[0]; ${BODY}`;

let t: TestHome;
let passed: string; // the file whose fd `ham start` was given
const out = (kind: string): string => join(t.home, `fds.${kind}`);

/** `ham start` with an extra fd (5) open on `file`, as a careless caller would pass it. */
function startWithFd(file: string): Promise<void> {
  const fd = openSync(file, 'w');
  return new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, [CLI_MAIN, '--home', t.home, '--json', 'start', ...CALM], { stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', fd] });
    let text = '';
    p.stdout!.on('data', (d: Buffer) => (text += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (text += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ham start exited ${code}: ${text}`))));
  }).finally(() => closeSync(fd));
}

/** A listing written by a child: its fds from 3 up, but the one it read /proc/self/fd through. */
function listed(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .filter((l) => Number(l.split(' ')[0]) >= 3 && !/^\d+ \/proc\/\d+\/fd$/.test(l));
}

/** The fds of a live process we can read: "N target" from 3 up. */
function fdsOf(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  return readdirSync(dir)
    .filter((n) => Number(n) >= 3)
    .flatMap((n) => {
      try {
        return [`${n} ${readlinkSync(join(dir, n))}`];
      } catch {
        return []; // closed meanwhile
      }
    });
}

/** What a child must never hold: the store's files, or the fd passed to `ham start`. */
const leaked = (fds: string[]): string[] => fds.filter((l) => l.includes(join(t.home, 'store')) || l.endsWith(passed));

/** The fds from 3 up of a daemon that are not close-on-exec (O_CLOEXEC is 02000000 in fdinfo's octal flags). */
function inheritable(pid: number): string[] {
  return fdsOf(pid).filter((l) => {
    const n = l.split(' ')[0]!;
    try {
      const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/${pid}/fdinfo/${n}`, 'utf8'))![1]!;
      return (parseInt(flags, 8) & 0o2000000) === 0;
    } catch {
      return false; // closed meanwhile
    }
  });
}

beforeAll(async () => {
  t = tempHome();
  passed = join(t.home, 'passed-to-start');
  await startWithFd(passed);
  await waitStatus(t.home, 'the pair', (s) => s.guardian.pid !== null);
  putDetector(t.home, 'fdcheck', `#!/usr/bin/perl\n# ham: kind=check entity=web interval=200ms tries=1\nmy $f = "${out('check')}"; ${BODY}\nexit 0;\n`);
  putDetector(t.home, 'fdstream', `#!/usr/bin/perl\n# ham: kind=stream entity=web\nmy $f = "${out('stream')}"; ${BODY}\nsleep 100000;\n`);
  await applyConfig(t.home, {
    entities: {
      web: {
        command: ['perl', '-e', `${LIST} sleep 100000;`, out('entity'), `${t.home}/web`],
        conditions: { listed: { type: 'raise', match: { type: 'list' }, actions: [{ kind: 'execute', argv: ['perl', '-e', LIST, out('execute')] }] } },
      },
      ready: { command: ['perl', '-e', 'sleep 100000', `${t.home}/ready`], readiness: { command: ['perl', '-e', LIST, out('readiness')], intervalMs: 50 } },
    },
  });
  await waitStatus(t.home, 'web and ready running', (s) => entity(s, 'web').state === 'running' && entity(s, 'ready').state === 'running');
  await request(t.home, 'raise', { entity: 'web', type: 'list' });
}, 60_000);
afterAll((suite) => t.cleanup({ task: suite }));

describe('what the HAM spawns inherits none of its fds', () => {
  for (const kind of ['execute', 'readiness', 'check', 'stream', 'entity']) {
    it(`${kind}: nothing open from fd 3 up`, async () => {
      await waitFor(`the ${kind} listing`, () => existsSync(out(kind)), 30_000);
      expect(listed(out(kind))).toEqual([]);
    });
  }

  it('keepers, the launcher and the check runner hold neither the store nor the fd passed to ham start', async () => {
    const s = await status(t.home);
    const ham = s.ham.pid!;
    const keepers = keepersWith(`${t.home}/web`);
    expect(keepers.length).toBe(1);
    const children = [...childrenOf(new Set([ham]))];
    const helpers = findProcesses((argv) => argv[0] === LAUNCHER_BINARY || argv.includes(RUNNER_SCRIPT)).filter((p) => children.includes(p));
    expect(helpers.length).toBeGreaterThan(0);
    for (const pid of [...keepers, ...keepersWith(`${t.home}/ready`), ...helpers]) expect({ pid, fds: leaked(fdsOf(pid)) }).toEqual({ pid, fds: [] });
  });

  it('the HAM and the Guardian hold no fd from 3 up that an exec would pass on', async () => {
    const s = await status(t.home);
    for (const pid of [s.ham.pid!, s.guardian.pid!]) expect({ pid, fds: inheritable(pid) }).toEqual({ pid, fds: [] });
  });

  it('after a takeover too (the Guardian becomes the HAM, a new Guardian is spawned)', async () => {
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGKILL');
    const s = await waitStatus(
      t.home,
      'a new pair',
      (x) => x.ham.pid === before.guardian.pid && x.guardian.pid !== null && x.guardian.pid !== before.guardian.pid,
      30_000,
    );
    rmSync(out('execute'));
    await hamJson(t.home, ['raise', 'web', '--type', 'list']);
    await waitFor('the execute listing under the new HAM', () => existsSync(out('execute')), 30_000);
    expect(listed(out('execute'))).toEqual([]);
    for (const pid of [s.ham.pid!, s.guardian.pid!]) expect({ pid, fds: inheritable(pid) }).toEqual({ pid, fds: [] });
  });
});
