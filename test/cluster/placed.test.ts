// Placed entities against a real etcd (README "Cluster"): one instance in the whole cluster,
// proven by a witness every instance reports to with its fencing token (no two ever overlap,
// tokens only rise), through node loss, a takeover on the owner's node, a node cut from etcd,
// a node left with no HAM (its keeper fences) and etcd restarted within the TTL.
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/protocol/cluster.js';
import { twoNodesDb, type ClusterWorld } from '../helpers/cluster.js';
import { witnessed, type TestEtcd, type Witness } from '../helpers/etcd.js';
import { applyConfig, daemons, ham, hamJson, killAll, status, waitFor } from '../helpers/ham.js';

let world: ClusterWorld | undefined;
let witness: Witness;
let proxy: ClusterWorld['proxy'];
let etcd: TestEtcd;
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

const applyFile = (home: string, config: object): Promise<{ changes: { entity: string; details: string[] }[] }> => applyConfig(home, config);

const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

/** Nodes a (its etcd through the proxy) and b; `db` placed on them, favored a; running on a (helpers/cluster.ts). */
async function twoNodes(ttlMs: number): Promise<{ a: string; b: string; token: number }> {
  const r = await twoNodesDb(ttlMs);
  world = r.world;
  ({ witness, proxy, etcd } = r.world);
  return r;
}

const runningOn = (node: string) => () => world!.runningOn(node)();

describe('placed entities', () => {
  it('run on one node with HAM_FENCE_TOKEN; applying the file again changes nothing; status shows the owner', async () => {
    const { a, b, token } = await twoNodes(3000);
    const vb = await waitFor('b sees db elsewhere', async () => (await clusterStatus(b)).placed.find((p) => p.name === 'db' && p.state === 'elsewhere'));
    expect(vb.owner).toBe('a');
    expect(vb.token).toBe(String(token));
    const va = await clusterStatus(a);
    expect(va.placed.find((p) => p.name === 'db')?.state).toBe('running');
    expect((await status(b)).entities.map((e) => e.name)).not.toContain('db');
    expect(va.placed.find((p) => p.name === 'db')?.token).toBe(String(token)); // the witness had it from HAM_FENCE_TOKEN
    await applyFile(b, {
      entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'], policy: 'favored' } } },
    });
    await waitFor('b renewed twice more', async () => (await clusterStatus(b)).connected);
    expect(witness.all).toHaveLength(1);
    // A node not (yet) in the cluster: accepted, with a warning, and shown.
    const r = await applyFile(b, { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b', 'c'] } } } });
    expect(r.changes.find((c) => c.entity === 'db')?.details.join(' ')).toContain('no live node is named c');
    await waitFor('c shown unknown', async () => (await clusterStatus(a)).placed.find((p) => p.name === 'db')?.unknownNodes.includes('c'));
    expect(witness.all).toHaveLength(1);
  });

  it('node loss (every process of the owner SIGKILLed): another node runs it, after, with a higher token', async () => {
    const { a } = await twoNodes(3000);
    killAll(a);
    await waitFor('db running on b', runningOn('b'), 30_000);
    expect(witness.overlaps).toEqual([]);
    expect(witness.all.map((w) => w.node)).toEqual(['a', 'b']);
  });

  it("a takeover on the owner's node moves nothing", async () => {
    // A TTL the takeover fits in with room (the keeper's deadline is TTL − stop timeout − 500 ms after the last renewal).
    const { a } = await twoNodes(8000);
    const before = await status(a);
    process.kill(before.ham.pid!, 'SIGKILL');
    const killedAt = Date.now();
    // Renewals by the new HAM for longer than a TTL: the lease was the same one all along.
    await waitFor(
      'the new HAM renewing past a TTL',
      async () => {
        const s = await status(a);
        const v = await clusterStatus(a);
        return s.ham.pid !== before.ham.pid && v.connected && v.lastRenewal !== null && Date.parse(v.lastRenewal) > killedAt + 8000;
      },
      30_000,
      100,
    );
    expect(witness.all).toHaveLength(1);
    expect(runningOn('a')()).toBe(true);
  });

  it('a node cut from etcd stops its entity before its lease expires; another starts it after', async () => {
    const { a } = await twoNodes(3000);
    proxy.cut();
    await waitFor('db running on b', runningOn('b'), 30_000);
    expect(witness.overlaps).toEqual([]);
    const va = await clusterStatus(a);
    expect(va.connected).toBe(false);
    expect((await status(a)).entities.map((e) => e.name)).not.toContain('db');
  });

  it('a node with no HAM: its keeper stops the entity at its deadline; another node starts it after', async () => {
    const { a } = await twoNodes(3000);
    for (const pid of daemons(a)) process.kill(pid, 'SIGSTOP'); // the pair hung: nobody renews, nobody takes over
    try {
      await waitFor('db running on b', runningOn('b'), 30_000);
      expect(witness.overlaps).toEqual([]);
    } finally {
      for (const pid of daemons(a)) process.kill(pid, 'SIGCONT');
    }
  });

  it('etcd restarted within the TTL moves nothing', async () => {
    const { a, b } = await twoNodes(6000);
    await etcd.kill();
    const back = Date.now();
    await etcd.start();
    for (const h of [a, b])
      await waitFor(
        'renewing again',
        async () => {
          const v = await clusterStatus(h);
          return v.connected && v.lastRenewal !== null && Date.parse(v.lastRenewal) > back;
        },
        30_000,
        100,
      );
    expect(witness.all).toHaveLength(1);
    expect(runningOn('a')()).toBe(true);
  });

  it('etcd down longer than the TTL stops it everywhere; once etcd is back it is placed again, with a higher token', async () => {
    const { a, token } = await twoNodes(3000);
    await etcd.kill();
    await waitFor('db stopped everywhere', () => witness.live().length === 0, 30_000);
    await waitFor('a sees etcd gone', async () => !(await clusterStatus(a)).connected);
    expect(witness.all).toHaveLength(1);
    await etcd.start();
    await waitFor('db running again', () => witness.live().length === 1, 40_000);
    expect(witness.overlaps).toEqual([]);
    expect(witness.live()[0]!.token).toBeGreaterThan(token);
  });

  it('ham relocate: stopped on its owner, then started on the next node (or the one --to names), with a higher token', async () => {
    const { a, b } = await twoNodes(3000);
    const wrong = await ham(b, ['--json', 'relocate', 'db']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout + wrong.stderr).toContain('on the node that runs db (a)');
    const r = await hamJson<{ from: string }>(a, ['relocate', 'db']);
    expect(r.from).toBe('a');
    await waitFor('db running on b', runningOn('b'), 30_000);
    await hamJson(b, ['relocate', 'db', '--to', 'a']);
    await waitFor('db running on a again', runningOn('a'), 30_000);
    expect(witness.overlaps).toEqual([]);
    expect(witness.all.map((w) => w.node)).toEqual(['a', 'b', 'a']);
  });
});
