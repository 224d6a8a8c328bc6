// A Guardian says it is ready before it loads the HAM's modules (what a takeover runs): a HAM
// SIGKILLed in that window is taken over all the same, its entity adopted, not restarted. The
// load is held back (HAM_GUARDIAN_LOAD_DELAY_MS) so that the kill surely comes before it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { hamJson, lines, procsWith, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { homePaths } from '../../src/home.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const LOADED = "standing by: the HAM's modules loaded";
const loadedBy = (pid: number): boolean => lines(homePaths(t.home).daemonLog).some((l) => l.includes(LOADED) && (JSON.parse(l) as { pid: number }).pid === pid);

describe('a takeover before the Guardian loaded the HAM', () => {
  it('without the hold, the Guardian loads them right after it said it was ready', async () => {
    const started = await hamJson<{ guardian: { pid: number } }>(t.home, ['start', '--hang-ms', '3000']);
    await waitFor("the Guardian's load", () => loadedBy(started.guardian.pid));
  });

  it('the HAM SIGKILLed right after `ham start`: its Guardian loads what it needs then, serves, and adopts the entity', async () => {
    const env = { HAM_GUARDIAN_LOAD_DELAY_MS: '600000' };
    const started = await hamJson<{ ham: { pid: number }; guardian: { pid: number } }>(t.home, ['start', '--hang-ms', '3000'], env);
    const marker = `${t.home}/web`;
    await hamJson(t.home, ['attach', 'web', '--restart', '--', ...sleeper(marker)]);
    const before = await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running' && procsWith(marker).length === 1);
    expect(loadedBy(started.guardian.pid)).toBe(false); // ready, and not loaded yet
    process.kill(started.ham.pid, 'SIGKILL');
    const after = await waitStatus(
      t.home,
      'the Guardian serving as the HAM',
      (s) => s.ham.pid === started.guardian.pid && s.ham.epoch === before.ham.epoch + 1,
      30_000,
    );
    expect(entity(after, 'web')).toMatchObject({ pid: entity(before, 'web').pid, restarts: 0, state: 'running' });
    expect(procsWith(marker)).toEqual([entity(before, 'web').pid]);
    await waitFor('a new Guardian', async () => {
      const s = await status(t.home);
      return s.guardian.pid !== null && s.guardian.pid !== started.guardian.pid;
    });
  });
});
