// A placed entity across an upgrade and a takeover (README "Cluster"): hams of the first
// cluster commits kept the keeper's first deadline (HAM_FENCE_MS) in the entity's stored env;
// a newer ham reading that store must not see a changed definition (its keeper "stale") nor
// restart the entity. And a HAM that takes over before its first reconcile must not halt it.
import { afterEach, describe, expect, it } from 'vitest';
import { ensureHome } from '../../src/home.js';
import type { EntityRecord } from '../../src/model/records.js';
import { Store } from '../../src/store/store.js';
import { upgradeEntity } from '../../src/store/upgrade.js';
import { clusterWorld, type ClusterWorld } from '../helpers/cluster.js';
import { witnessed } from '../helpers/etcd.js';
import { hamJson, status, waitFor } from '../helpers/ham.js';

let world: ClusterWorld | undefined;
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

/** The record as this ham reads it, from the store (the pair may run: LMDB readers do not block). */
function record(home: string, name: string): EntityRecord | undefined {
  const store = new Store(ensureHome(home).store);
  try {
    return store.entity(name);
  } finally {
    store.close();
  }
}

async function placeDb(ttlMs: number): Promise<ClusterWorld> {
  const w = await clusterWorld({ nodes: ['a', 'b'], ttlMs });
  await w.apply('a', { entities: { db: { command: witnessed(w.witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'] } } } });
  await waitFor('db running on a', w.runningOn('a', 'db'), 30_000);
  return w;
}

/** The HAM of `node` renewed for longer than a TTL after `since` (so any halt or restart would have shown). */
const renewedPast = (w: ClusterWorld, node: string, since: number, ttlMs: number, notPid: number) =>
  waitFor(
    `${node}'s new HAM renewing past a TTL`,
    async () => {
      const s = await status(w.homes[node]!);
      const c = await w.status(node);
      return s.ham.pid !== notPid && c.connected && c.lastRenewal !== null && Date.parse(c.lastRenewal) > since + ttlMs;
    },
    40_000,
    100,
  );

describe('a placed entity across an upgrade and a takeover', () => {
  it('a stored HAM_FENCE_MS (an older ham) is dropped on read', () => {
    const rec = { name: 'db', env: { HAM_FENCE_TOKEN: '7', HAM_FENCE_MS: '4000', HAM_FENCE_STOP: '15 500', X: '1' } } as unknown as EntityRecord;
    expect(upgradeEntity(rec)!.env).toEqual({ HAM_FENCE_TOKEN: '7', HAM_FENCE_STOP: '15 500', X: '1' });
    // Only placed records (a token): a plain entity's own variable of that name is its business.
    const plain = { name: 'x', env: { HAM_FENCE_MS: '1' } } as unknown as EntityRecord;
    expect(upgradeEntity(plain)!.env).toEqual({ HAM_FENCE_MS: '1' });
  });

  it('upgrade: the pair stopped, its store given an old HAM_FENCE_MS, started again: db keeps running, its keeper not stale', async () => {
    const ttlMs = 10_000;
    world = await placeDb(ttlMs);
    const a = world.homes.a!;
    const before = await status(a);
    await hamJson(a, ['stop']); // the entities keep running; their keepers' deadlines hold
    const store = new Store(ensureHome(a).store);
    try {
      const rec = store.entity('db')!;
      store.write(() => store.putEntity({ ...rec, env: { ...rec.env, HAM_FENCE_MS: '8000' } }));
    } finally {
      store.close();
    }
    const since = Date.now();
    await world.startPair('a');
    await renewedPast(world, 'a', since, ttlMs, before.ham.pid!);
    expect(world.witness.all).toHaveLength(1);
    expect(world.runningOn('a', 'db')()).toBe(true);
    const rec = record(a, 'db')!;
    expect(rec.keeper?.stale ?? false).toBe(false);
    expect(rec.env.HAM_FENCE_MS).toBeUndefined();
  }, 120_000);

  it('a takeover at once after the placement (before its first reconcile, TTL 5 s) neither halts nor restarts db', async () => {
    const ttlMs = 5000;
    world = await placeDb(ttlMs);
    const a = world.homes.a!;
    const before = await status(a);
    process.kill(before.ham.pid!, 'SIGKILL');
    await renewedPast(world, 'a', Date.now(), ttlMs, before.ham.pid!);
    expect(world.witness.all).toHaveLength(1);
    expect(world.runningOn('a', 'db')()).toBe(true);
    expect(record(a, 'db')!.keeper?.stale ?? false).toBe(false);
  }, 120_000);
});
