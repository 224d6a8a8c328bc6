// `ham restart --group G` across a takeover, with real processes: the HAM is
// SIGKILLed while the roll waits for its second member to be ready again; the
// Guardian's new HAM carries the roll on (the third member is restarted only
// once the second is ready), and the roll leaves the store at its end.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, events, ham, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));
const at = (f: string): string => join(t.home, f);

/** Ready (READY=1) once the file NAME.INSTANCE exists: the test says when each instance is ready. */
const gated = (name: string): string[] => [
  'sh',
  '-c',
  `while [ ! -e ${at(name)}.$HAM_INSTANCE ]; do sleep 0.05; done; systemd-notify --ready; exec perl -e 'sleep 1000' ${t.home}`,
];
const names = ['a', 'b', 'c'];

it('restart --group: the HAM SIGKILLed mid-roll, the new HAM carries it on from the member it was at', async () => {
  const entities = Object.fromEntries(names.map((n) => [n, { command: gated(n), group: 'g', readiness: { notify: true, timeoutMs: 120_000 } }]));
  await applyConfig(t.home, { groups: { g: { strategy: 'one-for-one' } }, entities });
  for (const n of names) writeFileSync(at(`${n}.1`), '');
  const up = await waitStatus(t.home, 'all ready', (s) => names.every((n) => entity(s, n).ready), 60_000);
  const since = (await events(t.home)).at(-1)!.seq;
  await hamJson(t.home, ['restart', '--group', 'g']);
  await waitStatus(t.home, 'a restarted, waiting', (s) => entity(s, 'a').instance === 2 && entity(s, 'a').state === 'starting');
  writeFileSync(at('a.2'), '');
  await waitStatus(t.home, 'b restarted, waiting', (s) => entity(s, 'b').instance === 2 && entity(s, 'b').state === 'starting');
  process.kill(up.ham.pid!, 'SIGKILL');
  await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > up.ham.epoch && s.ham.pid !== up.ham.pid);
  expect(entity(await status(t.home), 'c').instance).toBe(1); // not before b is ready
  writeFileSync(at('b.2'), '');
  await waitStatus(t.home, 'c restarted, waiting', (s) => entity(s, 'c').instance === 2 && entity(s, 'c').state === 'starting', 30_000);
  writeFileSync(at('c.2'), '');
  const s = await waitStatus(t.home, 'all ready again', (x) => names.every((n) => entity(x, n).ready && entity(x, n).instance === 2), 60_000);
  expect(names.map((n) => [entity(s, n).instance, entity(s, n).deaths])).toEqual(names.map(() => [2, 0]));
  const seq = (await events(t.home, since)).filter((e) => e.condition === 'requested' || e.condition === 'ready').map((e) => `${e.condition} ${e.entity}`);
  expect(seq).toEqual(['requested a', 'ready a', 'requested b', 'ready b', 'requested c', 'ready c']);
  // Over: out of the store, so the group can roll again; while that roll is under way, another is refused.
  await waitFor('the roll ended', async () => (await ham(t.home, ['restart', '--group', 'g'])).code === 0);
  const again = await ham(t.home, ['--json', 'restart', '--group', 'g']);
  expect(again.code).toBe(1);
  expect(JSON.parse(again.stdout).error.message).toBe('restart --group g: expected no restart of that group under way, one is (at a, 1 of 3)');
});

it('restart --group: the pair stopped mid-roll (`ham stop`), then `ham start`: the roll is dropped and said, not carried on', async () => {
  const entities = Object.fromEntries(['a', 'b'].map((n) => [n, { command: gated(n), group: 'g', readiness: { notify: true, timeoutMs: 120_000 } }]));
  await applyConfig(t.home, { groups: { g: { strategy: 'one-for-one' } }, entities });
  for (const n of ['a', 'b']) writeFileSync(at(`${n}.1`), '');
  await waitStatus(t.home, 'both ready', (s) => ['a', 'b'].every((n) => entity(s, n).ready), 60_000);
  await hamJson(t.home, ['restart', '--group', 'g']);
  await waitStatus(t.home, 'a restarted, waiting', (s) => entity(s, 'a').instance === 2 && entity(s, 'a').state === 'starting');
  await hamJson(t.home, ['stop']);
  await hamJson(t.home, ['start', ...CALM]);
  const log = (): string => readFileSync(at('logs/ham.log'), 'utf8');
  await waitFor('the roll dropped, said', () => log().includes('restart --group not carried on: the pair was stopped in the middle'));
  writeFileSync(at('a.2'), '');
  await waitStatus(t.home, 'a ready', (s) => entity(s, 'a').ready && entity(s, 'a').instance === 2);
  expect(entity(await status(t.home), 'b').instance).toBe(1);
  // Out of the store: the group may roll again.
  expect((await ham(t.home, ['restart', '--group', 'g'])).code).toBe(0);
});
