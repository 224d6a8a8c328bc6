// A raise the HAM committed but died before answering is sent again by the
// library to the next HAM: its idempotency key makes it one event, and its
// actions run once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, type HamClient } from '../../src/index.js';
import { events, hamJson, request, status, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let client: HamClient | undefined;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  client?.close();
  client = undefined;
  t.cleanup(ctx);
});

describe('raise and state sent again across a takeover', () => {
  it('the HAM dies after committing a raise, before answering: the resent raise is one event', async () => {
    const points = join(t.home, 'failpoints');
    // The HAM spins right after the commit; the Guardian finds it hung, kills it and takes over.
    await hamJson(t.home, ['start', '--hang-ms', '1000'], { HAM_FAILPOINTS: 'occurrences-committed', HAM_FAILPOINT_DIR: points });
    const before = await status(t.home);
    client = await connect({ home: t.home });
    const h = await client.attachSelf('app');
    await request(t.home, 'condition-add', {
      entity: 'app',
      name: 'slow',
      condition: { type: 'raise', match: { type: 'latency' }, rearm: true, actions: [{ kind: 'log', message: 'slow' }] },
    });
    // The raise is the first occurrence through the batch (attach writes its event directly).
    const seq = await h.raise({ type: 'latency', severity: 2 });
    expect(existsSync(join(points, 'occurrences-committed'))).toBe(true);
    const after = await status(t.home);
    expect(after.ham.epoch).toBeGreaterThan(before.ham.epoch);
    const raises = (await events(t.home)).filter((e) => e.condition === 'raise');
    expect(raises).toHaveLength(1);
    expect(raises[0]!.seq).toBe(seq);
    // The condition fired once (its counter is in the store, with the event).
    const app = (await status(t.home)).entities.find((e) => e.name === 'app')!;
    expect(app.conditions.find((c) => c.name === 'slow')).toMatchObject({ fired: 1 });
    expect((await events(t.home)).filter((e) => e.condition === 'takeover').map((e) => e.seq)).toEqual([seq + 1]);
    expect(await h.state('degraded')).toBe(seq + 2); // after the takeover's event
  });

  it('the same key sent twice by hand makes one event; different keys make two', async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await request(t.home, 'attach', { name: 'p' });
    const a = await request<{ seq: number }>(t.home, 'raise', { entity: 'p', type: 'x', key: 'k1' });
    const b = await request<{ seq: number }>(t.home, 'raise', { entity: 'p', type: 'x', key: 'k1' });
    const c = await request<{ seq: number }>(t.home, 'raise', { entity: 'p', type: 'x', key: 'k2' });
    expect(b.seq).toBe(a.seq);
    expect(c.seq).toBeGreaterThan(a.seq);
    expect((await events(t.home)).filter((e) => e.condition === 'raise').map((e) => e.seq)).toEqual([a.seq, c.seq]);
  });
});
