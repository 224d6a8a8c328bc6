// A move to a named node with three nodes, against a real etcd (README "Cluster"): the node a move
// names (failback: its favored node back; `ham relocate --to`) takes it even though its watch has
// just connected (the move key lives under the releasing owner's lease: the entity was stopped
// gracefully, no node cut off can run it), and the third node does not win meanwhile. A witness
// every instance reports to proves no two instances overlapped and tokens rose.
import { afterEach, describe, expect, it } from 'vitest';
import { clusterWorld, type ClusterWorld } from '../helpers/cluster.js';
import { witnessed } from '../helpers/etcd.js';
import { hamJson, killAll, waitFor } from '../helpers/ham.js';

let world: ClusterWorld | undefined;
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

/** Nodes a, b, c (TTL 3 s); `db` favored a, b, c; running on a, then a lost (every process: a reboot) and db on b; a back. */
async function aBack(failback: boolean): Promise<ClusterWorld> {
  const w = (world = await clusterWorld({ nodes: ['a', 'b', 'c'], ttlMs: 3000 }));
  const db = { command: witnessed(w.witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b', 'c'], policy: 'favored', failback } };
  await w.apply('a', { entities: { db } });
  await waitFor('db running on a', w.runningOn('a', 'db'), 30_000);
  killAll(w.homes.a!);
  await waitFor('db running on b', w.runningOn('b', 'db'), 30_000);
  await w.startPair('a'); // its node key reappears (the store keeps its cluster block)
  return w;
}

/** The third instance of db has started and is the only one live. */
const thirdRun = (w: ClusterWorld) => () => w.witness.all.length >= 3 && w.witness.live().length === 1;

describe('a move to a named node with three nodes', () => {
  it('failback: true takes it home to a, not to c', async () => {
    const w = await aBack(true);
    await waitFor('a third instance of db', thirdRun(w), 40_000);
    expect(w.witness.all.map((r) => r.node)).toEqual(['a', 'b', 'a']);
    expect(w.witness.overlaps).toEqual([]);
  });

  it('ham relocate --to a right after a is back goes to a, not to c', async () => {
    const w = await aBack(false);
    await waitFor('b sees a back', async () => (await w.status('b')).nodes.some((n) => n.name === 'a'), 30_000, 100);
    const r = await hamJson<{ from: string; to: string }>(w.homes.b!, ['relocate', 'db', '--to', 'a']);
    expect(r).toMatchObject({ from: 'b', to: 'a' });
    await waitFor('a third instance of db', thirdRun(w), 40_000);
    expect(w.witness.all.map((x) => x.node)).toEqual(['a', 'b', 'a']);
    expect(w.witness.overlaps).toEqual([]);
  });
});
