// `ham start` while `ham stop --all` with no HAM runs waits for it, then starts the pair (review L3).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { offlineStop } from '../../src/cli/offline-wait.js';
import type { StatusView } from '../../src/protocol/views.js';
import { applyConfig, CALM, daemons, ham, hamJson, procsWith, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const entity = (s: StatusView, n: string) => s.entities.find((e) => e.name === n)!;

describe('ham start during an offline ham stop --all', () => {
  it('waits for the stop to end (saying so), then starts the pair, which starts the entity again', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const marker = `${t.home}/stubborn`;
    // It ignores SIGTERM: the offline stop lasts its stop timeout (long: the start below surely comes meanwhile), then SIGKILLs it.
    await applyConfig(t.home, {
      entities: { stubborn: { command: ['perl', '-e', '$SIG{TERM} = "IGNORE"; sleep 100000', marker], stop: { timeoutMs: 15_000 } } },
    });
    await waitStatus(t.home, 'running', (s) => entity(s, 'stubborn')?.state === 'running' && entity(s, 'stubborn').pid !== null);
    const pids = daemons(t.home);
    for (const p of pids) process.kill(p, 'SIGSTOP');
    for (const p of pids) process.kill(p, 'SIGKILL');
    await waitFor('no daemon left', () => daemons(t.home).length === 0);
    let stopDone = false;
    const stop = ham(t.home, ['stop', '--all']).then((r) => ((stopDone = true), r));
    await waitFor('the offline stop runs', () => offlineStop(t.home), 30_000);
    const start = await ham(t.home, ['start', ...CALM]);
    expect(stopDone).toBe(true); // the start returned only after the stop ended
    expect((await stop).code).toBe(0);
    expect(start.code).toBe(0);
    expect(start.stderr).toMatch(/an offline `ham stop --all` \(pid \d+\) is under way on .*: starting when it ends/);
    expect(start.stdout).toMatch(/^started on /);
    const s = await waitStatus(t.home, 'started again', (x) => entity(x, 'stubborn')?.state === 'running' && entity(x, 'stubborn').pid !== null);
    expect(procsWith(marker)).toEqual([entity(s, 'stubborn').pid]);
  });
});
