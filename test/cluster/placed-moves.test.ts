// A placed entity moved by the cluster rather than by a failure (README "Cluster"), against a real
// etcd: `failback: true` takes it home when its favored node's key reappears; `ham stop NAME` of a
// placed entity stops it on every node until `ham start NAME` places it again; etcd lost and back
// are events. A witness every instance reports to proves no two overlapped and tokens rose.
import { describe, expect, it } from 'vitest';
import { witnessed } from '../helpers/etcd.js';
import { nodesRig } from '../helpers/cluster-rig.js';
import { applyFile, clusterEvents, nodesSeen, placedView, renewedAfter, startNode } from '../helpers/cluster.js';
import { CALM, ham, hamJson, killAll, status, waitFor } from '../helpers/ham.js';

const rig = nodesRig();
const runningOn = rig.runningOn;

/** Nodes a and b (TTL 3 s); `db` placed on them, favored a; running on a. */
async function twoNodes(failback: boolean): Promise<{ a: string; b: string; token: number }> {
  const [a, b] = rig.homes.map((h) => h.home) as [string, string];
  await startNode(a, 'a', rig.etcd.url, 3000);
  await startNode(b, 'b', rig.etcd.url, 3000);
  await nodesSeen([a, b], 2);
  await applyFile(a, {
    entities: { db: { command: witnessed(rig.witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'], policy: 'favored', failback } } },
  });
  const first = await waitFor('db running on a', () => (runningOn('a')() ? rig.witness.live()[0] : undefined), 30_000);
  return { a, b, token: first.token };
}

describe('placed entities moved by the cluster', () => {
  it('failback: true: once its favored node is back, it moves home gracefully', async () => {
    const { a, b } = await twoNodes(true);
    killAll(a); // node a lost: b takes it
    await waitFor('db running on b', runningOn('b'), 30_000);
    await hamJson(a, ['start', ...CALM, '--env', 'HAM_TEST_NODE=a']); // a back: its node key reappears
    await waitFor('db running on a again', runningOn('a'), 40_000);
    expect(rig.witness.overlaps).toEqual([]);
    expect(rig.witness.all.map((w) => w.node)).toEqual(['a', 'b', 'a']);
    const ev = await clusterEvents(b);
    expect(ev.find((e) => e.event === 'released' && e.entity === 'db')?.detail).toBe('failback: its favored node a is back');
    expect(ev.some((e) => e.event === 'relocated' && e.detail === 'from b to a')).toBe(true);
    expect((await placedView(b, 'db'))?.failback).toBe(true);
  });

  it('without failback it stays where it went', async () => {
    const { a } = await twoNodes(false);
    killAll(a);
    await waitFor('db running on b', runningOn('b'), 30_000);
    await hamJson(a, ['start', ...CALM, '--env', 'HAM_TEST_NODE=a']);
    await waitFor('a renewing', async () => (await placedView(a, 'db'))?.state === 'elsewhere', 30_000);
    await renewedAfter(a, 4000); // past a TTL + 1 s after a is back
    expect(runningOn('b')()).toBe(true);
    expect(rig.witness.all).toHaveLength(2);
  });

  it('ham stop on its owner stops it on every node; ham start elsewhere places it again; etcd lost and back are events', async () => {
    const { a, b, token } = await twoNodes(false);
    const stop = await hamJson<{ cluster: string; entities: unknown[] }>(a, ['stop', 'db', '--wait']);
    expect(stop.cluster).toContain('stopped cluster-wide (stopped here)');
    expect(rig.witness.live()).toEqual([]);
    expect((await status(a)).entities.map((e) => e.name)).not.toContain('db');
    await waitFor('b sees it stopped', async () => (await placedView(b, 'db'))?.state === 'stopped');
    await renewedAfter(b, 4000); // past a TTL + 1 s: b does not take it
    expect(rig.witness.all).toHaveLength(1);
    const again = await ham(b, ['stop', 'db']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already stopped cluster-wide');
    const start = await hamJson<{ cluster: string }>(b, ['start', 'db']);
    expect(start.cluster).toContain('placed again');
    await waitFor('db running on a again', runningOn('a'), 30_000);
    expect(rig.witness.live()[0]!.token).toBeGreaterThan(token);
    expect(rig.witness.overlaps).toEqual([]);
    const ev = await clusterEvents(a);
    expect(ev.filter((e) => e.entity === 'db').map((e) => e.event)).toEqual(['placed', 'released', 'placed']);
    // etcd lost and back: events on each node (the event log is the node's own: readable while etcd is down).
    await rig.etcd.kill();
    await waitFor('a: etcd-lost', async () => (await clusterEvents(a)).some((e) => e.event === 'etcd-lost' && e.node === 'a'));
    await rig.etcd.start();
    await waitFor('a: etcd-back', async () => (await clusterEvents(a)).some((e) => e.event === 'etcd-back' && e.node === 'a'), 30_000);
  });
});
