// A notify watchdog (WATCHDOG=1 beats) is watched only while its process runs:
// stopped by name or held (its requirement stopped), it fires no
// heartbeat-missed; restarted by name, the new instance's beats are watched
// (a stall of the new one fires). Real pair, real shell entities with
// systemd-notify (the review's reproduction of the leak, made a test).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, events, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const PERIOD_MS = 1500;
/** A notify entity beating every 0.1 s while FLAG exists. */
const dog = (flag: string, extra: object = {}): object => ({
  command: ['sh', '-c', `systemd-notify --ready; while [ -e ${flag} ]; do systemd-notify WATCHDOG=1; sleep 0.1; done; exec sleep 1000`],
  readiness: { notify: true, watchdogMs: PERIOD_MS },
  conditions: { late: { type: 'heartbeat-missed-low', actions: [{ kind: 'log', message: 'missed a beat' }] } },
  ...extra,
});
const missed = async (name: string, since: number): Promise<number> =>
  (await events(t.home)).slice(since).filter((e) => e.entity === name && String(e.condition ?? e.type).startsWith('heartbeat-missed')).length;
/** Wait until `ms` passed (a window in which something must not happen; never asserted as a duration). */
const elapse = async (what: string, ms: number): Promise<void> => {
  const from = Date.now();
  await waitFor(what, () => Date.now() - from > ms || undefined, ms + 20_000, 100);
};

it('stopped by name, or held by a stop of what it requires: no heartbeat-missed fires on it', async () => {
  const flag = join(t.home, 'beating');
  writeFileSync(flag, '');
  await applyConfig(t.home, {
    entities: { db: { command: ['sleep', '1000'] }, named: dog(flag), needy: dog(flag, { requires: ['db'] }) },
  });
  await waitStatus(t.home, 'both dogs ready', (x) => entity(x, 'named').ready && entity(x, 'needy').ready);
  await elapse('two periods of beats (both watched)', 2 * PERIOD_MS);
  const before = (await events(t.home)).length;
  await hamJson(t.home, ['stop', 'named', '--wait']);
  await hamJson(t.home, ['stop', 'db', '--wait']);
  await waitStatus(
    t.home,
    'named stopped, needy held',
    (x) => entity(x, 'named').state === 'stopped' && entity(x, 'needy').state === 'stopped' && entity(x, 'needy').held === 'requires',
  );
  await elapse('three periods with no process beating', 3 * PERIOD_MS);
  expect(await missed('named', before)).toBe(0);
  expect(await missed('needy', before)).toBe(0);
});

it('restarted by name: the new instance is watched (its stall fires), the old one is not', async () => {
  const flag = join(t.home, 'beating');
  writeFileSync(flag, '');
  await applyConfig(t.home, { entities: { dog: dog(flag) } });
  const first = entity(await waitStatus(t.home, 'dog ready', (x) => entity(x, 'dog').ready), 'dog');
  await elapse('two periods of beats', 2 * PERIOD_MS);
  const before = (await events(t.home)).length;
  await hamJson(t.home, ['restart', 'dog', '--wait']);
  await waitStatus(t.home, 'a new instance ready', (x) => entity(x, 'dog').ready && entity(x, 'dog').instance > first.instance);
  await elapse('three periods of the new instance beating', 3 * PERIOD_MS);
  expect(await missed('dog', before)).toBe(0);
  execFileSync('rm', [flag]);
  await waitFor('the new instance missed a beat', async () => (await missed('dog', before)) > 0, 30_000);
});
