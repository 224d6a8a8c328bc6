// A HAM that hangs without a stop and without CPU (here frozen by the cgroup freezer, as a main
// thread blocked in the kernel is: D state, no SIGCHLD, no CPU time) is taken over, under the nannies
// (its nanny's slow check finds it out of epoll_wait) as under the watch (HAM_NANNY=off).
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hamJson, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

const CG = '/sys/fs/cgroup/freezer/ham-nanny-frozen';
let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  if (existsSync(CG)) {
    writeFileSync(`${CG}/freezer.state`, 'THAWED');
  }
  t.cleanup(ctx);
  try {
    rmdirSync(CG);
  } catch {
    /* still in use: removed by the next run */
  }
});

describe.skipIf(!existsSync('/sys/fs/cgroup/freezer'))('a frozen HAM', () => {
  for (const nanny of ['on', 'off'] as const) {
    it(`is taken over (nanny ${nanny})`, async () => {
      const env = nanny === 'off' ? { HAM_NANNY: 'off' } : undefined;
      await hamJson(t.home, ['start', '--hang-ms', '1000'], env);
      const before = await status(t.home);
      await new Promise((r) => setTimeout(r, 3000)); // the pair at rest (its mode settled)
      mkdirSync(CG, { recursive: true });
      writeFileSync(`${CG}/tasks`, String(before.ham.pid));
      writeFileSync(`${CG}/freezer.state`, 'FROZEN');
      const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.epoch > before.ham.epoch, 30_000);
      expect(after.ham.pid).toBe(before.guardian.pid);
    }, 120_000);
  }
});
