// A stray: the keeper restarted its entity by its standing order where the HAM
// had just decided no restart was due (here its restart condition disabled
// while the HAM was stopped, the request read before the death record). The
// HAM stops that process at its fork record (P), also when it was SIGKILLed
// between applying the death and the fork (the new HAM tells it by the state:
// nothing may run there), where before the process ran on under a dead entity.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, hamJson, procsWith, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };

/**
 * `web` under an order; with the HAM stopped, its restart condition disabled (the request sent first, on a
 * connection already open, so it is read first) and its process killed: the keeper restarts it by its order.
 * `between`: called once the HAM runs again. Returns the stray's pid.
 */
async function strayRestart(home: string, marker: string, between: (ham: number) => Promise<void>): Promise<number> {
  await applyConfig(home, { entities: { web: { command: ['perl', '-e', 'sleep 100000', marker], conditions: { died } } } });
  const s = await waitStatus(home, 'web running', (x) => entity(x, 'web').state === 'running');
  const ham = s.ham.pid!;
  await waitFor('its order', () => readFileSync(join(home, 'logs', 'ham.log'), 'utf8').includes('"standing order given"'));
  const c = await Connection.open(join(home, 'ham.sock'), 2000);
  try {
    await c.request('ping', {}, 5000);
    process.kill(ham, 'SIGSTOP');
    const disabled = c.request('enable', { entity: 'web', condition: 'died', enabled: false }, 60_000).catch(() => undefined);
    const old = entity(s, 'web').pid!;
    process.kill(old, 'SIGKILL');
    const stray = await waitFor('the keeper restarted it by its order', () => procsWith(marker).find((p) => p !== old));
    process.kill(ham, 'SIGCONT');
    await between(ham);
    await disabled;
    return stray;
  } finally {
    c.close();
  }
}

describe('a restart a standing order carried out where none was due', () => {
  it('is stopped at its fork record', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const marker = `${t.home}/web`;
    const stray = await strayRestart(t.home, marker, async () => undefined);
    await waitFor('the stray stopped', () => procsWith(marker).length === 0);
    const s = await waitStatus(t.home, 'web dead', (x) => entity(x, 'web').state === 'dead');
    expect(entity(s, 'web').pid).not.toBe(stray);
    expect(readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8')).toContain('where no restart was due');
  });

  it('the HAM SIGKILLed between that death and the fork: the new HAM stops the stray all the same', async () => {
    const points = join(t.home, 'failpoints');
    mkdirSync(points);
    const point = join(points, 'apply-P:web');
    writeFileSync(point, ''); // fired already: disarmed until removed (web's first start has a P too)
    await hamJson(t.home, ['start', ...CALM], { HAM_FAILPOINTS: 'apply-P:web', HAM_FAILPOINT_DIR: points });
    const marker = `${t.home}/web`;
    await waitStatus(t.home, 'the pair', (x) => x.guardian.pid !== null);
    rmSync(point);
    await strayRestart(t.home, marker, async (ham) => {
      // Its death applied (the stray marked, in memory), the HAM killed inside the fork record's transaction.
      await waitFor("the HAM in the fork record's transaction", () => existsSync(point));
      process.kill(ham, 'SIGKILL');
    });
    await waitFor('the stray stopped by the new HAM', () => procsWith(marker).length === 0, 30_000);
    const s = await waitStatus(t.home, 'web dead under a new HAM', (x) => x.ham.epoch > 1 && entity(x, 'web').state === 'dead');
    expect(entity(s, 'web').pid === null || !procsWith(marker).includes(entity(s, 'web').pid!)).toBe(true);
  });
});
