// The lean pair (issue 12): both daemons run with the Node flags that keep
// them small, a Guardian spawned after a takeover too; and, without nannies
// (HAM_NANNY=off: the watch is their fallback), a side whose watch got stuck
// (it re-arms its silence timer itself, not on every line) still notices,
// kills that watch and falls back to beats without a takeover.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAEMON_NODE_FLAGS, NANNY_BINARY, WATCH_BINARY } from '../../src/paths.js';
import { findProcesses, startTime } from '../../src/proc/procfs.js';
import { daemons, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const cmdline = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
/** What a daemon was exec'd with: it shows a title in `ps`, but its nanny (its parent) execs node with exactly these. */
const launchedWith = (pid: number): string[] => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const nanny = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  const argv = cmdline(nanny);
  expect(argv[0]).toBe(NANNY_BINARY);
  return argv.slice(1);
};
/** The watch a daemon runs on `partner` (its argv: WATCH PID START PERIOD HOME). */
const watchOn = (partner: number): number[] => findProcesses((a) => a[0] === WATCH_BINARY && Number(a[1]) === partner);

describe('the lean pair', () => {
  it('both daemons run with the daemon Node flags, and so does the Guardian spawned after a takeover', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const before = await status(t.home);
    for (const pid of [before.ham.pid!, before.guardian.pid!]) expect(launchedWith(pid)).toEqual(expect.arrayContaining([...DAEMON_NODE_FLAGS]));
    process.kill(before.ham.pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'a new whole pair',
      (s) => s.ham.epoch > before.ham.epoch && s.guardian.pid !== null && s.guardian.pid !== before.guardian.pid && startTime(s.guardian.pid) !== undefined,
    );
    expect(after.ham.pid).toBe(before.guardian.pid);
    expect(launchedWith(after.guardian.pid!)).toEqual(expect.arrayContaining([...DAEMON_NODE_FLAGS]));
  });

  it('a stuck watch is killed after its silence and the pair goes on by beats, with no takeover', async () => {
    // hang 300 ms: a watch period of 100 ms, a stuck watch noticed after 96 periods (9.6 s).
    await hamJson(t.home, ['start', '--hang-ms', '300'], { HAM_NANNY: 'off' });
    const before = await status(t.home);
    const [watch] = await waitFor('the HAM watching its Guardian', () =>
      watchOn(before.guardian.pid!).length === 1 ? watchOn(before.guardian.pid!) : undefined,
    );
    process.kill(watch!, 'SIGSTOP');
    await waitFor('the stuck watch killed', () => startTime(watch!) === undefined, 60_000);
    // Still the same pair, by beats now, and it answers.
    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(after.guardian.pid).toBe(before.guardian.pid);
    expect(daemons(t.home).sort()).toEqual([before.ham.pid, before.guardian.pid].sort());
  });
});
