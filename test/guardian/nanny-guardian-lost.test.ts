// A Guardian that loses its nanny keeps guarding (it tells the HAM `unwatched`): a HAM stopped and
// then the Guardian's nanny killed is still taken over.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { hamJson, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let stopped = 0;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  try {
    if (stopped) process.kill(stopped, 'SIGCONT');
  } catch {
    /* gone */
  }
  return t.cleanup(ctx);
});
const parentOf = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
};

it("a HAM stopped as the Guardian's nanny dies is still taken over", async () => {
  await hamJson(t.home, ['start', '--hang-ms', '1000']);
  const before = await status(t.home);
  const nanny = parentOf(before.guardian.pid!);
  stopped = before.ham.pid!;
  process.kill(before.ham.pid!, 'SIGSTOP');
  process.kill(nanny, 'SIGKILL');
  const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.epoch > before.ham.epoch, 30_000);
  expect(after.ham.pid).toBe(before.guardian.pid);
}, 120_000);
