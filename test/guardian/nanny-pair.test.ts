// The pair under its nannies (guardian/nanny.c): at rest nothing watches by
// sampling (no pair watch runs); a HAM whose nanny died is watched by its
// Guardian instead, and its hang is still taken over; a Guardian whose nanny
// died is replaced by the HAM, without a takeover.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NANNY_BINARY, WATCH_BINARY } from '../../src/paths.js';
import { findProcesses, isStopped, startTime } from '../../src/proc/procfs.js';
import { entity } from '../helpers/entities.js';
import { daemons, hamJson, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const cmdline = (pid: number): string[] => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
const parentOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};
const watchesOn = (pid: number): number[] => findProcesses((a) => a[0] === WATCH_BINARY && Number(a[1]) === pid);

describe('the pair under its nannies', () => {
  it('each daemon is the child of a nanny that names the home, and at rest no watch runs', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '1000']);
    const s = await status(t.home);
    for (const pid of [s.ham.pid!, s.guardian.pid!]) {
      const nanny = cmdline(parentOf(pid));
      expect(nanny[0]).toBe(NANNY_BINARY);
      expect(nanny).toContain(t.home);
    }
    // The Guardian watches the HAM only until the HAM says its nanny alerts for it.
    await waitFor('no pair watch', () => watchesOn(s.ham.pid!).length + watchesOn(s.guardian.pid!).length === 0, 30_000);
  });

  it('a HAM whose nanny died is watched by its Guardian, and a SIGSTOP of it is still taken over', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '1000']);
    const before = await status(t.home);
    await waitFor('the pair at rest (no watch)', () => watchesOn(before.ham.pid!).length === 0, 30_000);
    process.kill(parentOf(before.ham.pid!), 'SIGKILL');
    await waitFor('the Guardian watching the HAM', () => watchesOn(before.ham.pid!).length === 1, 30_000);
    process.kill(before.ham.pid!, 'SIGSTOP');
    const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.epoch > before.ham.epoch && x.guardian.pid !== null);
    expect(after.ham.pid).toBe(before.guardian.pid);
    await waitFor('the hung HAM killed', () => startTime(before.ham.pid!) === undefined, 30_000);
  });

  it("a HAM that hangs before it can tell its nanny died is taken over: the Guardian's nanny saw that death", async () => {
    // The HAM spins (a failpoint, at web's death) while its nanny is stopped (it cannot tell), then
    // the nanny is killed: neither the nanny nor the spinning HAM can say so; only the Guardian's
    // nanny, which holds a pidfd on the HAM's, sees it and has the Guardian probe.
    const points = join(t.home, 'failpoints');
    await hamJson(t.home, ['start', '--hang-ms', '1000'], { HAM_FAILPOINTS: 'apply-X:web', HAM_FAILPOINT_DIR: points });
    await hamJson(t.home, ['attach', 'web', '--', ...sleeper(`${t.home}/web`)]);
    const before = await status(t.home);
    await waitFor('the pair at rest (no watch)', () => watchesOn(before.ham.pid!).length === 0, 30_000);
    const nanny = parentOf(before.ham.pid!);
    process.kill(nanny, 'SIGSTOP');
    await waitFor('the nanny stopped', () => isStopped(nanny), 30_000);
    process.kill(entity(before, 'web').pid!, 'SIGKILL');
    await waitFor('the HAM spinning', () => existsSync(join(points, 'apply-X:web')), 30_000);
    process.kill(nanny, 'SIGKILL');
    const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.epoch > before.ham.epoch && x.guardian.pid !== null);
    expect(after.ham.pid).toBe(before.guardian.pid);
  });

  it("a SIGSTOP of the HAM's whole process group (its nanny is not in it) is taken over", async () => {
    await hamJson(t.home, ['start', '--hang-ms', '1000']);
    const before = await status(t.home);
    await waitFor('no pair watch', () => watchesOn(before.ham.pid!).length === 0, 30_000);
    process.kill(-before.ham.pid!, 'SIGSTOP');
    const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.epoch > before.ham.epoch && x.guardian.pid !== null);
    expect(after.ham.pid).toBe(before.guardian.pid);
    try {
      process.kill(-before.ham.pid!, 'SIGCONT'); // what else was in its group goes on
    } catch {
      /* the group is gone */
    }
  });

  it('a Guardian whose nanny died keeps guarding, watched by the HAM; once it dies, the HAM replaces it', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '1000']);
    const before = await status(t.home);
    await waitFor('the pair at rest (no watch)', () => watchesOn(before.guardian.pid!).length === 0, 30_000);
    process.kill(parentOf(before.guardian.pid!), 'SIGKILL');
    await waitFor('the HAM watching its Guardian', () => watchesOn(before.guardian.pid!).length === 1, 30_000);
    const kept = await status(t.home);
    expect(kept.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(kept.guardian.pid).toBe(before.guardian.pid);
    process.kill(before.guardian.pid!, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'a new Guardian',
      (x) => x.guardian.pid !== null && x.guardian.pid !== before.guardian.pid && startTime(x.guardian.pid) !== undefined,
    );
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(after.guardian.failures).toBe(1);
    expect(cmdline(parentOf(after.guardian.pid!))[0]).toBe(NANNY_BINARY);
    expect(daemons(t.home).sort()).toEqual([after.ham.pid, after.guardian.pid].sort());
  });
});
