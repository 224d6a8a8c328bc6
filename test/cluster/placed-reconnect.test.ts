// A node whose watch has just (re)connected waits TTL + 1 s before it races for an entity it sees
// free (README "Cluster"): another node cut off may still run it until its own deadline. Against a
// real etcd: b is cut off (a TCP proxy the test breaks) while a, the owner, is lost; once b is back
// it starts db, but not before TTL + 1 s after it could reach etcd again (a bound the design
// guarantees: a loaded machine only starts it later). A witness proves no two instances overlapped.
import { Etcd3 } from 'etcd3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEtcd, startProxy, startWitness, witnessed, type TestEtcd } from '../helpers/etcd.js';
import { applyFile, nodesSeen, startNode } from '../helpers/cluster.js';
import { killAll, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let etcd: TestEtcd;
let witness: Awaited<ReturnType<typeof startWitness>>;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let homes: TestHome[] = [];
beforeEach(async () => {
  etcd = await startEtcd();
  witness = await startWitness();
  proxy = await startProxy(etcd.port);
  homes = [tempHome(), tempHome()];
});
afterEach(async (ctx) => {
  for (const h of homes) h.cleanup(ctx);
  await proxy.close();
  await witness.close();
  await etcd.stop();
});

describe('a freshly reconnected watch', () => {
  it('does not race for a key it sees free before TTL + 1 s', async () => {
    const ttlMs = 3000;
    const [a, b] = homes.map((h) => h.home) as [string, string];
    await startNode(a, 'a', etcd.url, ttlMs);
    await startNode(b, 'b', proxy.url, ttlMs);
    await nodesSeen([a, b], 2);
    await applyFile(a, { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'] } } } });
    await waitFor('db running on a', () => witness.live()[0]?.node === 'a', 30_000);
    proxy.cut();
    killAll(a); // the owner lost while b cannot see it
    const client = new Etcd3({ hosts: etcd.url });
    try {
      await waitFor('a lease expired', async () => (await client.get('/ham/owners/db').string()) === null, 30_000, 100);
    } finally {
      client.close();
    }
    const mendedAt = Date.now();
    proxy.mend();
    await waitFor('db running on b', () => witness.live()[0]?.node === 'b', 40_000);
    expect(witness.overlaps).toEqual([]);
    // A lower bound is the contract (freshUntil: TTL + 1 s after the watch reconnected, which is after
    // the mend); load only delays b's start, so this cannot fail on a slow machine. No upper bound.
    expect(witness.all[1]!.at - mendedAt).toBeGreaterThanOrEqual(ttlMs + 1000);
  });
});
