// Standing orders with a real pair and real kill -9: the keeper restarts at
// once by its order and the HAM counts the death and the restart once;
// intensity still gives up exactly at its limit; a HAM SIGKILLed while an
// order stands: the entity killed during the takeover is restarted once and
// the new HAM renews the order; a policy change revokes it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entity, pairOf } from '../helpers/entities.js';
import { applyConfig, CALM, events, hamJson, procsWith, sleep, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const apply = (config: object): Promise<unknown> => applyConfig(t.home, config);

const died = { type: 'death', rearm: true, actions: [{ kind: 'restart' }] };
/** Deaths the keepers of `name` restarted by their order, as the HAM logged them. */
function ordered(name: string): number {
  const log = readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').split('\n');
  return log.filter((l) => l.includes('"keeper record X"') && l.includes(`"entity":"${name}"`) && l.includes('"ordered":true')).length;
}

/** Wait for the HAM `pid` to have given `name`'s keeper an order (it follows the S record's transaction). */
function orderGiven(name: string, pid: number, after = 0): Promise<number> {
  return waitFor(`an order for ${name} from HAM ${pid}`, () => {
    const log = readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').split('\n');
    const n = log.filter((l) => l.includes('"standing order given"') && l.includes(`"entity":"${name}"`) && l.includes(`"pid":${pid},`)).length;
    return n > after ? n : undefined;
  });
}

/** Kill the running instance of `name` and wait until the next one runs; its status after. */
async function killAndBack(name: string, marker: string) {
  const before = entity(await status(t.home), name);
  process.kill(before.pid!, 'SIGKILL');
  return waitStatus(
    t.home,
    `${name} back after death ${before.deaths + 1}`,
    (s) => entity(s, name).state === 'running' && entity(s, name).deaths === before.deaths + 1 && procsWith(marker).length === 1,
  );
}

describe('standing orders', () => {
  it('an entity under an order restarts at once; status counts the death and the restart once; the order is renewed each time', async () => {
    const marker = `${t.home}/web`;
    await apply({ entities: { web: { command: ['perl', '-e', 'sleep 100000', marker], conditions: { died } } } });
    const hamPid = (await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running')).ham.pid!;
    for (let i = 1; i <= 3; i++) {
      await orderGiven('web', hamPid, i - 1);
      if (i > 1) await sleep(1100); // up for resetAfterMs: the next restart is at once too
      const s = await killAndBack('web', marker);
      expect(entity(s, 'web')).toMatchObject({ deaths: i, restarts: i, lastExit: { signal: 'SIGKILL' } });
      expect(ordered('web')).toBe(i);
    }
    const evs = (await events(t.home)).filter((e) => e.entity === 'web');
    expect(evs.filter((e) => e.condition === 'death' || e.condition === 'abnormal-death')).toHaveLength(3);
    expect(evs.filter((e) => e.condition === 'restart')).toHaveLength(3);
    expect(procsWith(marker)).toHaveLength(1);
  });

  it('intensity still gives up exactly at its limit', async () => {
    const marker = `${t.home}/loop`;
    await apply({
      entities: {
        loop: {
          command: ['perl', '-e', 'sleep 100000', marker],
          conditions: { died },
          restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 }, intensity: { max: 3, withinMs: 600_000 } },
        },
      },
    });
    await orderGiven('loop', (await waitStatus(t.home, 'loop running', (s) => entity(s, 'loop').state === 'running')).ham.pid!);
    for (let i = 1; i <= 3; i++) await killAndBack('loop', marker);
    expect(ordered('loop')).toBe(3); // every restart the intensity allows, by order
    const last = entity(await status(t.home), 'loop');
    process.kill(last.pid!, 'SIGKILL');
    const s = await waitStatus(t.home, 'loop failed', (x) => entity(x, 'loop').state === 'failed');
    expect(entity(s, 'loop')).toMatchObject({ deaths: 4, restarts: 3 });
    expect(entity(s, 'loop').lastError).toMatch(/restarted 3 times within 600000 ms/);
    expect(ordered('loop')).toBe(3); // the fourth asked, and the HAM escalated
    expect(procsWith(marker)).toHaveLength(0);
    expect((await events(t.home)).filter((e) => e.entity === 'loop' && e.condition === 'escalate')).toHaveLength(1);
  });

  it('a HAM SIGKILLed while an order stands: the entity killed during the takeover is restarted once, and the new HAM renews the order', async () => {
    const marker = `${t.home}/web`;
    await apply({
      entities: { web: { command: ['perl', '-e', 'sleep 100000', marker], conditions: { died }, restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 } } } },
    });
    const s0 = await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running');
    const pair = pairOf(s0)!;
    await orderGiven('web', pair.ham);
    const pid = entity(s0, 'web').pid!;
    process.kill(pair.ham, 'SIGKILL');
    process.kill(pid, 'SIGKILL'); // while no HAM runs
    const s1 = await waitStatus(
      t.home,
      'a new HAM with web back',
      (s) => s.ham.pid !== null && s.ham.pid !== pair.ham && entity(s, 'web').state === 'running' && entity(s, 'web').pid !== pid,
    );
    expect(entity(s1, 'web')).toMatchObject({ deaths: 1, restarts: 1 });
    expect(procsWith(marker)).toHaveLength(1);
    expect(ordered('web')).toBe(1); // by the order the old HAM gave
    const evs = (await events(t.home)).filter((e) => e.entity === 'web');
    expect(evs.filter((e) => e.condition === 'restart')).toHaveLength(1);
    // The new HAM's order: the next death is restarted at once too, and counted once.
    await orderGiven('web', s1.ham.pid!);
    const s2 = await killAndBack('web', marker);
    expect(entity(s2, 'web')).toMatchObject({ deaths: 2, restarts: 2 });
    expect(ordered('web')).toBe(2);
    expect(procsWith(marker)).toHaveLength(1);
  });

  it('a policy change revokes it: the keeper asks, and the new backoff is waited', async () => {
    const marker = `${t.home}/web`;
    const entityOf = (initialMs: number) => ({
      web: {
        command: ['perl', '-e', 'sleep 100000', marker],
        conditions: { died },
        restart: { backoff: { initialMs, factor: 1, maxMs: Math.max(initialMs, 0) } },
      },
    });
    await apply({ entities: entityOf(0) });
    await orderGiven('web', (await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running')).ham.pid!);
    await killAndBack('web', marker);
    expect(ordered('web')).toBe(1);
    await apply({ entities: entityOf(300) });
    await waitFor('the order revoked', () => readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').includes('"standing order revoked"'));
    const s = await killAndBack('web', marker);
    expect(entity(s, 'web')).toMatchObject({ deaths: 2, restarts: 2 });
    expect(ordered('web')).toBe(1); // asked: no order for a restart that waits
  });
});
