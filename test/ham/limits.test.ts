// Bounded memory and disk with real daemons: saved states over their limit,
// a store flooded to its limit, a raise flood.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { HamError } from '../../src/errors.js';
import { connect } from '../../src/index.js';
import { CALM, ham, hamJson, request, status, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

const MiB = 1024 * 1024;
const socket = (): string => join(t.home, 'ham.sock');

async function stats(): Promise<{ rssBytes: number; lastSeq: number }> {
  return request(t.home, 'stats', {});
}

describe('saved states', () => {
  it('a value over the limit is refused naming its size and the limit; the previous value is kept', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const client = await connect({ home: t.home });
    try {
      const h = await client.attachSelf('svc');
      await h.store({ counter: 1 });
      const big = { blob: 'x'.repeat(100_000) };
      const err = await h.store(big).then(
        () => undefined,
        (e: unknown) => e as HamError,
      );
      expect(err).toBeInstanceOf(HamError);
      expect(err!.code).toBe('too-large');
      expect(err!.message).toMatch(/the value for "svc" is 1000\d\d bytes encoded, at most 65536 allowed/);
      expect(await h.restore()).toEqual({ counter: 1 });
      // Just under the limit is fine.
      await h.store({ blob: 'y'.repeat(60_000) });
      expect(((await h.restore()) as { blob: string }).blob).toHaveLength(60_000);
    } finally {
      client.close();
    }
  });
});

describe('the store limit', () => {
  it('a flood of store requests stops at the limit with store-full; status still answers and shows the use', async () => {
    await hamJson(t.home, ['start', ...CALM, '--store-max-bytes', String(16 * MiB), '--saved-max-bytes', String(512 * 1024)]);
    const entities = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`p${i}`, { placeholder: true }]));
    writeFileSync(join(t.home, 'p.json'), JSON.stringify({ entities }));
    await hamJson(t.home, ['apply', '-f', join(t.home, 'p.json')]);
    const c = await Connection.open(socket());
    let stored = 0;
    let refusal: HamError | undefined;
    try {
      for (let i = 0; i < 60 && !refusal; i++) {
        try {
          await c.request('store', { name: `p${i}`, value: `${i}`.padEnd(500_000, 'z') });
          stored++;
        } catch (e) {
          refusal = e as HamError;
        }
      }
    } finally {
      c.close();
    }
    expect(refusal?.code, refusal?.message).toBe('store-full');
    expect(refusal!.message).toMatch(/the store is full: .* MiB in use .* at most 12\.0 MiB .* store limit 16\.0 MiB/);
    expect(stored).toBeGreaterThan(10);
    expect(stored).toBeLessThan(30);

    const s = await hamJson<{ ham: { epoch: number }; entities: unknown[]; store: { usedBytes: number; limitBytes: number } }>(t.home, ['status']);
    expect(s.entities).toHaveLength(60);
    expect(s.store.limitBytes).toBe(16 * MiB);
    expect(s.store.usedBytes).toBeGreaterThan(stored * 500_000);
    expect(s.store.usedBytes).toBeLessThanOrEqual(12 * MiB);
    const text = await ham(t.home, ['status']);
    expect(text.stdout).toMatch(/store: \d+\.\d MiB used of 16\.0 MiB \(\d+%/);
    // Other user-driven growth is refused too; the HAM's own records still go in.
    const room = 12 * MiB - s.store.usedBytes;
    expect(room).toBeLessThan(500_000);
    const env = Object.fromEntries(Array.from({ length: Math.ceil(room / 30_000) + 1 }, (_, i) => [`V${i}`, 'e'.repeat(30_000)]));
    writeFileSync(join(t.home, 'big.json'), JSON.stringify({ entities: { big: { command: ['/bin/true'], env } } }));
    const more = await ham(t.home, ['apply', '-f', join(t.home, 'big.json')]);
    expect(more.code).not.toBe(0);
    expect(more.stderr).toMatch(/store-full: apply: the store is full/);
    expect((await status(t.home)).entities).toHaveLength(60);
    expect((await hamJson<{ seq: number }>(t.home, ['raise', 'p1', '--type', 'still-recorded'])).seq).toBeGreaterThan(0);
    // Overwriting a saved state with a smaller one is allowed (it frees room).
    await request(t.home, 'store', { name: 'p0', value: 'small' });
    expect(await request<{ value: unknown }>(t.home, 'restore', { name: 'p0' })).toMatchObject({ value: 'small' });
  });
});

describe('a raise flood', () => {
  it('many connections pipelining raises keep the HAM RSS bounded and it answers without a takeover', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'web']);
    const before = await stats();
    const epoch = (await status(t.home)).ham.epoch;
    const conns = await Promise.all(Array.from({ length: 40 }, () => Connection.open(socket(), 5000)));
    const probe = await Connection.open(socket(), 5000);
    let peak = before.rssBytes;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, ((await probe.request('stats', {}, 60_000)) as { rssBytes: number }).rssBytes);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    try {
      const raises: Promise<unknown>[] = [];
      for (const c of conns) for (let i = 0; i < 5000; i++) raises.push(c.request('raise', { entity: 'web', type: 'flood' }, 180_000));
      const results = await Promise.allSettled(raises);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    } finally {
      sampling = false;
      await sampler;
      for (const c of [...conns, probe]) c.close();
    }
    const after = await stats();
    expect(after.lastSeq - before.lastSeq).toBe(200_000);
    // Unbounded, 200,000 queued raises took ~600 MB; bounded, well under this.
    expect(peak - before.rssBytes).toBeLessThan(300 * MiB);
    expect((await status(t.home)).ham.epoch).toBe(epoch);
  }, 240_000);

  it('action lists for one entity stay bounded: past 256 waiting, a firing list is coalesced and its event says so', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const config = {
      entities: {
        web: { placeholder: true, conditions: { slow: { type: 'raise', actions: [{ kind: 'execute', argv: ['/bin/sleep', '30'], timeoutMs: 60_000 }] } } },
      },
    };
    writeFileSync(join(t.home, 'slow.json'), JSON.stringify(config));
    await hamJson(t.home, ['apply', '-f', join(t.home, 'slow.json')]);
    const c = await Connection.open(socket());
    try {
      await Promise.all(Array.from({ length: 1000 }, (_, i) => c.request('raise', { entity: 'web', type: `r${i}` }, 60_000)));
    } finally {
      c.close();
    }
    const evs = (
      await request<{ events: { condition: string; coalesced?: { owner: string; condition: string }[] }[] }>(t.home, 'events', { since: 0, limit: 2000 })
    ).events.filter((e) => e.condition === 'raise');
    expect(evs).toHaveLength(1000);
    const coalesced = evs.filter((e) => e.coalesced);
    expect(coalesced.length).toBeGreaterThanOrEqual(1000 - 256);
    expect(coalesced[0]!.coalesced).toEqual([{ owner: 'web', condition: 'slow' }]);
    expect(await request(t.home, 'ping', {})).toBeTruthy();
  });
});
