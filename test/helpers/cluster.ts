// The shared set-up of the cluster tests (README "Cluster"): a real etcd (over TLS if asked),
// the witness every placed instance reports to, a TCP proxy for the nodes that reach etcd
// through it, one temporary home per node (its pair started with HAM_TEST_NODE in its base
// environment) joined by an apply of its `cluster:` block; and the cleanup of all of it. Also
// the single steps (a node started and joined, what it sees, its cluster events).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterView, PlacedView } from '../../src/protocol/cluster.js';
import { startEtcd, startProxy, startWitness, witnessed, type EtcdTls, type TestEtcd, type Witness } from './etcd.js';
import { CALM, events, ham, hamJson, tempHome, waitFor, type Run, type TestEvent, type TestHome } from './ham.js';

export interface ApplyReply {
  changes: { entity: string; change: string; details: string[] }[];
}

export interface ClusterWorld {
  etcd: TestEtcd;
  witness: Witness;
  /** The proxy the `proxied` nodes reach etcd through (cut() it to cut them off). */
  proxy: Awaited<ReturnType<typeof startProxy>>;
  /** Node name → its home. */
  homes: Record<string, string>;
  /** `ham apply -f` of `config` on `node`; throws with its output if refused. */
  apply(node: string, config: object): Promise<ApplyReply>;
  /** The same, its exit and output as they came. */
  applyRun(node: string, config: object): Promise<Run>;
  /** Start `node`'s pair again (after a killAll: a reboot), with the same base environment. */
  startPair(node: string): Promise<void>;
  status(node: string): Promise<ClusterView>;
  /** `entity` (default: the only one live) runs on exactly `node`, by the witness. */
  runningOn(node: string, entity?: string): () => boolean;
  cleanup(ctx?: Parameters<TestHome['cleanup']>[0]): Promise<void>;
}

export interface WorldOptions {
  nodes: string[];
  ttlMs: number;
  /** Nodes whose etcd endpoint is the proxy's. */
  proxied?: string[];
  /** etcd over TLS. */
  tls?: EtcdTls;
  /** More of each node's `cluster:` block (tls, auth...). */
  block?: (node: string) => Record<string, unknown>;
  /** Join every node (default) and wait until the first sees them all. */
  join?: boolean;
}

function writeConfig(home: string, config: object): string {
  const file = join(home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}

export async function clusterWorld(o: WorldOptions): Promise<ClusterWorld> {
  const undo: (() => Promise<void> | void)[] = [];
  const homes: Record<string, string> = {};
  const tests: TestHome[] = [];
  const cleanup = async (ctx?: Parameters<TestHome['cleanup']>[0]): Promise<void> => {
    for (const t of tests.splice(0)) t.cleanup(ctx); // by the processes that name each home
    for (const u of undo.splice(0).reverse()) await u();
  };
  try {
    const etcd = await startEtcd(o.tls ? { tls: o.tls } : {});
    undo.push(() => etcd.stop());
    const witness = await startWitness();
    undo.push(() => witness.close());
    const proxy = await startProxy(etcd.port);
    undo.push(() => proxy.close());
    const proxyUrl = o.tls ? proxy.url.replace('http://', 'https://') : proxy.url;
    for (const n of o.nodes) {
      const t = tempHome();
      tests.push(t);
      homes[n] = t.home;
    }
    const startPair = async (n: string): Promise<void> => void (await hamJson(homes[n]!, ['start', ...CALM, '--env', `HAM_TEST_NODE=${n}`]));
    const applyRun = (n: string, config: object): Promise<Run> => ham(homes[n]!, ['--json', 'apply', '-f', writeConfig(homes[n]!, config)]);
    const apply = async (n: string, config: object): Promise<ApplyReply> => {
      const r = await applyRun(n, config);
      if (r.code !== 0) throw new Error(`apply on ${n} failed: ${r.stdout}${r.stderr}`);
      return JSON.parse(r.stdout) as ApplyReply;
    };
    const status = (n: string): Promise<ClusterView> => hamJson<ClusterView>(homes[n]!, ['cluster', 'status']);
    await Promise.all(o.nodes.map(startPair));
    if (o.join !== false) {
      for (const n of o.nodes)
        await apply(n, { cluster: { etcd: [o.proxied?.includes(n) ? proxyUrl : etcd.url], node: n, ttlMs: o.ttlMs, ...(o.block?.(n) ?? {}) } });
      await waitFor(`every node seen from ${o.nodes[0]}`, async () => (await status(o.nodes[0]!)).nodes.length === o.nodes.length, 30_000, 100);
    }
    const runningOn = (node: string, entity?: string) => (): boolean => {
      const live = witness.live().filter((l) => entity === undefined || l.entity === entity);
      return live.length === 1 && live[0]!.node === node;
    };
    return { etcd, witness, proxy, homes, apply, applyRun, startPair, status, runningOn, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

/**
 * The two-node world most cluster tests start from: node a reaches etcd through the proxy
 * (cut it to cut a off), b directly; `db` (a witnessed instance, stop timeout 500 ms, `extra`
 * merged into its body) placed on both, favored a, and running on a.
 */
export async function twoNodesDb(ttlMs: number, extra: object = {}): Promise<{ world: ClusterWorld; a: string; b: string; token: number }> {
  const world = await clusterWorld({ nodes: ['a', 'b'], ttlMs, proxied: ['a'] });
  try {
    const db = { command: witnessed(world.witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'], policy: 'favored' }, ...extra };
    await world.apply('a', { entities: { db } });
    const first = await waitFor('db running on a', () => (world.runningOn('a', 'db')() ? world.witness.live()[0] : undefined), 30_000);
    if (!(first.token > 0)) throw new Error(`expected a fencing token above 0, got ${first.token}`);
    return { world, a: world.homes.a!, b: world.homes.b!, token: first.token };
  } catch (e) {
    await world.cleanup();
    throw e;
  }
}

export async function applyFile(home: string, config: object): Promise<{ changes: { entity: string; details: string[] }[] }> {
  const file = join(home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  const r = await ham(home, ['--json', 'apply', '-f', file]);
  if (r.code !== 0) throw new Error(`apply failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as { changes: { entity: string; details: string[] }[] };
}

export const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

export async function placedView(home: string, name: string): Promise<PlacedView | undefined> {
  return (await clusterStatus(home)).placed.find((p) => p.name === name);
}

/** Start the pair of `home` as node `node` and join it to the cluster at `etcdUrl`. */
export async function startNode(home: string, node: string, etcdUrl: string, ttlMs: number): Promise<void> {
  await hamJson(home, ['start', ...CALM, '--env', `HAM_TEST_NODE=${node}`]);
  await applyFile(home, { cluster: { etcd: [etcdUrl], node, ttlMs } });
}

/** Nodes that joined, as each of `homes` sees them. */
export async function nodesSeen(homes: string[], n: number): Promise<void> {
  for (const h of homes) await waitFor(`${n} nodes seen`, async () => (await clusterStatus(h)).nodes.length === n, 30_000);
}

/** The cluster events in `home`'s event log, as { event, entity, node, token }. */
export async function clusterEvents(home: string): Promise<{ event: string; entity?: string; node?: string; token?: string; detail?: string }[]> {
  return (await events(home))
    .filter((e: TestEvent) => e.condition === 'cluster')
    .map((e) => ({ ...(e.cluster as { event: string; entity?: string; node?: string; token?: string }), ...(e.detail ? { detail: e.detail as string } : {}) }));
}

/** A renewal confirmed by `home` after `ms` from now: time passes on the cluster's clock, not a fixed sleep. */
export async function renewedAfter(home: string, ms: number): Promise<void> {
  const after = Date.now() + ms;
  await waitFor(
    `a renewal ${ms} ms from now`,
    async () => {
      const v = await clusterStatus(home);
      return v.lastRenewal !== null && Date.parse(v.lastRenewal) > after;
    },
    ms + 30_000,
    100,
  );
}
