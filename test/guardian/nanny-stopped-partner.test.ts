// A HAM whose nanny is stopped (not dead) and which then stops itself is taken over: the Guardian's
// nanny finds the HAM's nanny stopped at its slow check and alerts the Guardian, which probes the HAM.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { WATCH_BINARY } from '../../src/paths.js';
import { findProcesses, isStopped } from '../../src/proc/procfs.js';
import { hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let nanny = 0;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  try {
    if (nanny) process.kill(nanny, 'SIGCONT');
  } catch {
    /* gone */
  }
  return t.cleanup(ctx);
});
const parentOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};
const watchesOn = (pid: number): number[] => findProcesses((a) => a[0] === WATCH_BINARY && Number(a[1]) === pid);

it('a HAM stopped after its nanny was stopped is taken over', async () => {
  await hamJson(t.home, ['start', '--hang-ms', '1000']);
  const before = await status(t.home);
  await waitFor('the pair at rest (no watch)', () => watchesOn(before.ham.pid!).length === 0, 30_000);
  nanny = parentOf(before.ham.pid!);
  process.kill(nanny, 'SIGSTOP');
  await waitFor('the nanny stopped', () => isStopped(nanny), 30_000);
  process.kill(before.ham.pid!, 'SIGSTOP');
  const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.epoch > before.ham.epoch && x.guardian.pid !== null);
  expect(after.ham.pid).toBe(before.guardian.pid);
}, 120_000);
