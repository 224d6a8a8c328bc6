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
import type { StatsView } from '../../src/protocol/views.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, hamJson, procsWith, request, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };

const logOf = (home: string): string => readFileSync(join(home, 'logs', 'ham.log'), 'utf8');
const count = (text: string, what: string): number => text.split(what).length - 1;
const STRAY = 'where no restart was due';

/**
 * `web` under an order; with the HAM stopped, its restart condition disabled (the request sent first, on a
 * connection already open) and its process killed: the keeper restarts it by its order. The HAM reads the
 * request first unless a timer of its own (the inbox's sweep) read the death record before: then the restart
 * was due, and it is tried again. `between(ham)`: once the HAM runs again, before the request's answer.
 */
async function strayRestart(home: string, marker: string, between: (ham: number) => Promise<void>, arm = (): void => undefined): Promise<number> {
  await applyConfig(home, { entities: { web: { command: ['perl', '-e', 'sleep 100000', marker], conditions: { died } } } });
  let given = 0; // orders seen in the log before this attempt's
  for (let attempt = 1; ; attempt++) {
    const s = await waitStatus(home, 'web running', (x) => entity(x, 'web').state === 'running' && procsWith(marker).length === 1, 30_000);
    const ham = s.ham.pid!;
    await waitFor('its order', () => count(logOf(home), '"msg":"standing order given"') > given, 30_000);
    const strays = count(logOf(home), STRAY);
    // The inbox's sweep after the S record (SWEEP_MS, 250 ms) run now, not first at SIGCONT (before the request).
    await waitFor('no inbox sweep pending', async () => !(await request<StatsView>(home, 'stats', {})).inbox.sweepPending, 30_000);
    arm();
    const c = await Connection.open(join(home, 'ham.sock'), 2000);
    let stray: number;
    try {
      await c.request('ping', {}, 5000);
      process.kill(ham, 'SIGSTOP');
      const disabled = c.request('enable', { entity: 'web', condition: 'died', enabled: false }, 60_000).catch(() => undefined);
      const old = entity(s, 'web').pid!;
      process.kill(old, 'SIGKILL');
      stray = await waitFor('the keeper restarted it by its order', () => procsWith(marker).find((p) => p !== old));
      process.kill(ham, 'SIGCONT');
      await between(ham);
      await disabled;
    } finally {
      c.close();
    }
    // The death applied after the request (a stray), or before it (a restart due, taken: it runs).
    const made = await waitFor('the death applied', async () => {
      if (count(logOf(home), STRAY) > strays) return 'stray';
      const x = await status(home).catch(() => undefined);
      return x && x.ham.pid !== ham ? 'taken over' : x && entity(x, 'web').pid === stray && entity(x, 'web').state === 'running' ? 'taken' : undefined;
    });
    if (made === 'stray') return stray;
    if (attempt === 5) throw new Error('the HAM read the death before the request 5 times');
    // Its condition back, and a new start (an order is given after a start's S record).
    const back = await waitStatus(home, 'web running again', (x) => entity(x, 'web').state === 'running', 30_000);
    await request(home, 'enable', { entity: 'web', condition: 'died', enabled: true });
    given = count(logOf(home), '"msg":"standing order given"');
    process.kill(entity(back, 'web').pid!, 'SIGKILL');
    await waitStatus(home, 'web restarted', (x) => entity(x, 'web').state === 'running' && entity(x, 'web').pid !== entity(back, 'web').pid, 30_000);
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
    expect(logOf(t.home)).toContain(STRAY);
  });

  it('the HAM SIGKILLed between that death and the fork: the new HAM stops the stray all the same', async () => {
    const points = join(t.home, 'failpoints');
    mkdirSync(points);
    const point = join(points, 'apply-P:web');
    writeFileSync(point, ''); // fired already: disarmed until removed (web's first start has a P too)
    await hamJson(t.home, ['start', ...CALM], { HAM_FAILPOINTS: 'apply-P:web', HAM_FAILPOINT_DIR: points });
    const marker = `${t.home}/web`;
    await waitStatus(t.home, 'the pair', (x) => x.guardian.pid !== null);
    await strayRestart(
      t.home,
      marker,
      async (ham) => {
        // Its death applied (the stray marked, in memory), the HAM killed inside the fork record's transaction.
        await waitFor("the HAM in the fork record's transaction", () => existsSync(point), 30_000);
        process.kill(ham, 'SIGKILL');
        await waitStatus(t.home, 'a new HAM', (x) => x.ham.pid !== ham && x.guardian.pid !== null, 30_000);
      },
      () => rmSync(point, { force: true }), // armed: the next P of web (the stray's, or the due restart's)
    );
    await waitFor('the stray stopped by the new HAM', () => procsWith(marker).length === 0, 30_000);
    const s = await waitStatus(t.home, 'web dead under a new HAM', (x) => x.ham.epoch > 1 && entity(x, 'web').state === 'dead');
    expect(entity(s, 'web').pid === null || !procsWith(marker).includes(entity(s, 'web').pid!)).toBe(true);
  });
});
