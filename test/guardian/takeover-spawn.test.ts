// A restart committed (its new keeper's reference written) but never spawned:
// the HAM stops at a failpoint between the two, the Guardian finds it hung,
// kills it and takes over; the new HAM starts it, as the restart it was.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { events, hamJson, keepersWith, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

describe('the HAM dies between a restart and its spawn', () => {
  it('the new HAM spawns it as a restart: counted once, its restart fired once, one process', async () => {
    const points = join(t.home, 'failpoints');
    await hamJson(t.home, ['start', '--hang-ms', '1000'], { HAM_FAILPOINTS: 'spawn-keeper:web', HAM_FAILPOINT_DIR: points });
    const marker = `${t.home}/web`;
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(marker)]);
    const before = await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running' && keepersWith(marker).length === 1);
    const pid = entity(before, 'web').pid!;
    // Its keeper stopped, the process killed (and gone), then the keeper killed: nothing reported
    // the death and no keeper waits to restart it, so the restart goes through a new keeper (the
    // step that writes its reference, then the spawn), and no orphan is left to adopt.
    const keeper = keepersWith(marker)[0]!;
    process.kill(keeper, 'SIGSTOP');
    process.kill(pid, 'SIGKILL');
    await waitFor('the process gone', () => procsWith(marker).length === 0);
    process.kill(keeper, 'SIGKILL');
    await waitFor('the HAM to reach the failpoint', () => existsSync(join(points, 'spawn-keeper:web')));
    const after = await waitStatus(
      t.home,
      'web restarted by the new HAM',
      (s) => s.ham.epoch > before.ham.epoch && entity(s, 'web').state === 'running' && entity(s, 'web').pid !== null,
      30_000,
    );
    expect(after.ham.pid).not.toBe(before.ham.pid);
    expect(entity(after, 'web')).toMatchObject({ restarts: 1, deaths: 1, instance: 2 });
    expect(entity(after, 'web').pid).not.toBe(pid);
    expect(procsWith(marker)).toEqual([entity(after, 'web').pid]);
    const fired = (await events(t.home)).filter((e) => e.entity === 'web').map((e) => e.condition);
    expect(fired.filter((x) => x === 'restart')).toHaveLength(1);
    expect(fired.filter((x) => x === 'death' || x === 'abnormal-death')).toHaveLength(1);
    expect(entity(await status(t.home), 'web').restarts).toBe(1); // and it stays one
  });
});
