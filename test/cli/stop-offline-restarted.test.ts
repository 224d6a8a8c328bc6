// `ham stop --all` with no HAM stops a command its keeper restarted (standing order) after the pair died:
// the store's pid is stale, the keeper's newest record names the live one (review H4).
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { procId } from '../../src/proc/procfs.js';
import type { StatusView } from '../../src/protocol/views.js';
import { applyConfig, CALM, daemons, hamJson, procsWith, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const entity = (s: StatusView, n: string) => s.entities.find((e) => e.name === n)!;

describe('ham stop --all with no HAM, after a keeper restarted its command', () => {
  it('stops the restarted process (found by its keeper, not the store) and reports it', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const marker = `${t.home}/crashy`;
    await applyConfig(t.home, {
      entities: {
        crashy: {
          command: ['perl', '-e', 'sleep 100000', marker],
          conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
          restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 } },
        },
      },
    });
    const up = await waitStatus(t.home, 'running', (s) => entity(s, 'crashy')?.state === 'running' && entity(s, 'crashy').pid !== null);
    const first = entity(up, 'crashy').pid!;
    await waitFor('standing order given', () => readFileSync(`${t.home}/logs/ham.log`, 'utf8').includes('standing order given'), 30_000);
    const pids = daemons(t.home);
    for (const p of pids) process.kill(p, 'SIGSTOP');
    for (const p of pids) process.kill(p, 'SIGKILL');
    await waitFor('no daemon left', () => daemons(t.home).length === 0);
    process.kill(first, 'SIGKILL'); // it crashes with no HAM: its keeper's standing order starts it again
    const again = await waitFor('restarted by its keeper', () => procsWith(marker).find((p) => p !== first), 30_000);
    expect(procId(again)).toBeDefined();
    try {
      const r = await hamJson<{ stopped: boolean; entities: { name: string; pid: number }[] }>(t.home, ['stop', '--all']);
      expect(r.entities.map((e) => [e.name, e.pid])).toEqual([['crashy', again]]);
      await waitFor('the restarted process gone', () => procsWith(marker).length === 0, 30_000);
      // Its order was revoked: its keeper asks (an X without `o`) instead of starting it again.
      const inbox = `${t.home}/run/inbox`;
      const asks = () => readdirSync(inbox).some((f) => !f.startsWith('.') && /^X \d+ -?\d+\n?$/.test(readFileSync(`${inbox}/${f}`, 'latin1')));
      await waitFor('its keeper asks about the death', asks, 30_000);
      expect(procsWith(marker)).toEqual([]);
      // The next start applies the keeper's records (the restart, then the stop's death) and starts it again.
      await hamJson(t.home, ['start', ...CALM]);
      const back = await waitStatus(
        t.home,
        'started again',
        (s) => entity(s, 'crashy')?.state === 'running' && ![null, first, again].includes(entity(s, 'crashy').pid),
      );
      expect(procsWith(marker)).toEqual([entity(back, 'crashy').pid]);
    } finally {
      for (const p of procsWith(marker)) process.kill(p, 'SIGKILL');
    }
  });
});
