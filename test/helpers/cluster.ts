// Nodes of a test cluster: homes started as pairs with HAM_TEST_NODE in their base environment,
// joined to one etcd, and what the tests read of them (cluster status, cluster events).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterView, PlacedView } from '../../src/protocol/cluster.js';
import { CALM, events, ham, hamJson, waitFor, type TestEvent } from './ham.js';

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
