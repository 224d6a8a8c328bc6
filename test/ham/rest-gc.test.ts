// A burst's garbage given back (src/ham/rest-gc.ts): V8 would keep it in the
// HAM's heap (the daemons run without V8's memory reducer, which would collect
// it late and twice); the HAM collects it in one compacting GC once the burst is
// over, and says so in its log. The burst here is an apply of 3000 placeholders.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyConfig, CALM, hamJson, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

interface Collected {
  pid: number;
  role: string;
  heapMiB: number;
  nowMiB: number;
  codeMiB: number | null;
}
const collections = (): Collected[] =>
  readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"heap collected after a burst"'))
    .map((l) => JSON.parse(l) as Collected);

describe('the HAM after a burst', () => {
  it('collects the heap an apply of 3000 placeholders grew once it is quiet, with no takeover', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const before = await status(t.home);
    const entities = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`ph${i}`, { placeholder: true }]));
    await applyConfig(t.home, { entities });
    // The apply's garbage is tens of MiB (the start's own is about one).
    const [c] = await waitFor('the apply garbage collected', () => {
      const big = collections().filter((x) => x.pid === before.ham.pid && x.heapMiB - x.nowMiB >= 5);
      return big.length > 0 ? big : undefined;
    });
    expect(c!.nowMiB).toBeLessThan(c!.heapMiB);
    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(after.entities.length).toBe(3000);
  });

  // The daemons run without V8's memory reducer (it would repeat the GC 8 s later, in the pair's idle
  // time): the Guardian's start is a burst of its own, collected once, as a HAM's start is.
  it("collects the Guardian's start too, once, in the Guardian", async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const s = await status(t.home);
    const [c] = await waitFor("the Guardian's start collected", () => {
      const mine = collections().filter((x) => x.pid === s.guardian.pid);
      return mine.length > 0 ? mine : undefined;
    });
    expect(c!.role).toBe('guardian');
    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: s.ham.pid, epoch: s.ham.epoch });
    expect(after.guardian.pid).toBe(s.guardian.pid);
  });

  // With the GC the daemons unmap the code their burst ran once (native/pages.c): it stays in the page
  // cache and is mapped again when run. A Guardian that dropped its pages still takes over, and the new
  // HAM (whose code is mapped again as it runs) restarts a killed entity.
  it('unmaps the code pages of both daemons at rest, and a takeover after it works', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const marker = `${t.home}/svc`;
    await hamJson(t.home, ['attach', 'svc', '--restart', '--', ...sleeper(marker)]);
    const s = await waitStatus(t.home, 'svc running', (x) => x.entities.some((e) => e.name === 'svc' && e.state === 'running'));
    const dropped = await waitFor('both daemons dropped code pages', () => {
      const mine = collections().filter((x) => (x.pid === s.ham.pid || x.pid === s.guardian.pid) && (x.codeMiB ?? 0) >= 5);
      return new Set(mine.map((x) => x.pid)).size === 2 ? mine : undefined;
    });
    expect(dropped.map((x) => x.role).sort()).toContain('guardian');
    process.kill(s.ham.pid!, 'SIGKILL');
    const after = await waitStatus(t.home, 'the Guardian took over', (x) => x.ham.pid === s.guardian.pid && x.ham.epoch > s.ham.epoch);
    const svc = after.entities.find((e) => e.name === 'svc')!;
    process.kill(svc.pid!, 'SIGKILL');
    await waitStatus(t.home, 'svc restarted by the new HAM', (x) =>
      x.entities.some((e) => e.name === 'svc' && e.state === 'running' && e.pid !== svc.pid && e.restarts >= 1),
    );
  });
});
