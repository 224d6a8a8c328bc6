// Placed entities against a real etcd (README "Cluster"): one instance in the whole cluster,
// proven by a witness every instance reports to with its fencing token (no two ever overlap,
// tokens only rise), through node loss, a takeover on the owner's node, a node cut from etcd,
// a node left with no HAM (its keeper fences) and etcd restarted within the TTL.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/protocol/cluster.js';
import { startEtcd, startProxy, startWitness, witnessed, type TestEtcd } from '../helpers/etcd.js';
import { CALM, daemons, ham, hamJson, killAll, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

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

async function applyFile(home: string, config: object): Promise<{ changes: { entity: string; details: string[] }[] }> {
  const file = join(home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  const r = await ham(home, ['--json', 'apply', '-f', file]);
  if (r.code !== 0) throw new Error(`apply failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as { changes: { entity: string; details: string[] }[] };
}

const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

/** Nodes a (its etcd through the proxy) and b; `db` placed on them, favored a; running on a. */
async function twoNodes(ttlMs: number): Promise<{ a: string; b: string; token: number }> {
  const [a, b] = homes.map((h) => h.home) as [string, string];
  await Promise.all([hamJson(a, ['start', ...CALM, '--env', 'HAM_TEST_NODE=a']), hamJson(b, ['start', ...CALM, '--env', 'HAM_TEST_NODE=b'])]);
  await applyFile(a, { cluster: { etcd: [proxy.url], node: 'a', ttlMs } });
  await applyFile(b, { cluster: { etcd: [etcd.url], node: 'b', ttlMs } });
  await waitFor('both nodes seen from a', async () => (await clusterStatus(a)).nodes.length === 2);
  await applyFile(a, { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'], policy: 'favored' } } } });
  const first = await waitFor(
    'db running on a',
    () => (witness.live().length === 1 && witness.live()[0]!.node === 'a' ? witness.live()[0] : undefined),
    30_000,
  );
  expect(first.token).toBeGreaterThan(0);
  return { a, b, token: first.token };
}

const runningOn = (node: string) => () => witness.live().length === 1 && witness.live()[0]!.node === node;

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
