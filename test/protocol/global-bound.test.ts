// Bounds across all connections: 200 connections each pipelining raises may
// not pile up 200 × 256 requests in flight. Past the global bound only
// connections with nothing in flight are served, so a ping from another
// connection is still answered, memory stays bounded, no takeover happens,
// and every raise is answered in the end.
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { DEFAULT_LIMITS } from '../../src/protocol/scheduler.js';
import { CALM, hamJson, request, status, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
const conns: Connection[] = [];
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  for (const c of conns.splice(0)) c.close();
  t.cleanup(ctx);
});

interface Stats {
  rssBytes: number;
  control: { peakInFlight: number; peakQueuedBytes: number; inFlight: number };
}

it('200 connections pipelining 200 raises each: bounded in flight, others served, none lost', async () => {
  await hamJson(t.home, ['start', ...CALM]);
  const sock = join(t.home, 'ham.sock');
  await request(t.home, 'attach', { name: 'web' }); // a placeholder: raises need an entity
  const epoch = (await status(t.home)).ham.epoch;
  const before = await request<Stats>(t.home, 'stats', {});
  const C = 200;
  const N = 200;
  for (let i = 0; i < C; i++) conns.push(await Connection.open(sock, 10_000));
  const all: Promise<unknown>[] = [];
  for (const c of conns) for (let i = 0; i < N; i++) all.push(c.request('raise', { entity: 'web', type: 'flood' }, 300_000));
  let settled = 0;
  const done = Promise.all(all.map((p) => p.then(() => settled++)));
  // While the flood runs, another connection is answered.
  const probe = await Connection.open(sock, 10_000);
  conns.push(probe);
  expect(await probe.request('ping', {}, 60_000)).toMatchObject({ ham: { pid: expect.any(Number) } });
  await done;
  expect(settled).toBe(C * N);
  const after = (await probe.request('stats', {}, 60_000)) as Stats;
  // Connections with nothing in flight may still start one each past the bound.
  expect(after.control.peakInFlight).toBeLessThanOrEqual(DEFAULT_LIMITS.globalInFlight + C + 1);
  expect(after.control.peakQueuedBytes).toBeLessThanOrEqual(DEFAULT_LIMITS.globalQueueBytes + C * 64 * 1024);
  expect(after.rssBytes - before.rssBytes).toBeLessThan(512 * 1024 * 1024);
  expect((await status(t.home)).ham.epoch).toBe(epoch); // no takeover
  const seqs = (await request<{ lastSeq: number }>(t.home, 'stats', {})).lastSeq;
  expect(seqs).toBeGreaterThanOrEqual(C * N);
}, 300_000);
