// A placed entity's orphan, adopted by a new keeper after its keeper was killed, is fenced
// like a child (the review's H2): with the pair hung, the adopting keeper stops it at its
// deadline before the lease expires and node b starts it; a witness every instance reports
// to with its fencing token proves no two instances ever overlap.
import { afterEach, describe, expect, it } from 'vitest';
import { keeperProcesses } from '../../src/proc/keepers.js';
import type { ClusterView } from '../../src/protocol/cluster.js';
import { twoNodesDb, type ClusterWorld } from '../helpers/cluster.js';
import type { Witness } from '../helpers/etcd.js';
import { daemons, hamJson, waitFor } from '../helpers/ham.js';

let world: ClusterWorld | undefined;
let witness: Witness;
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

/** Nodes a (its etcd through the proxy) and b; `db` placed on them, favored a; running on a (helpers/cluster.ts). */
async function twoNodes(ttlMs: number): Promise<{ a: string; b: string; token: number }> {
  const r = await twoNodesDb(ttlMs);
  world = r.world;
  ({ witness } = r.world);
  return r;
}

const runningOn = (node: string) => () => world!.runningOn(node)();

const keepersOf = (home: string) => keeperProcesses().filter((k) => k.argv.some((x) => x.includes(home)));

describe('an adopted placed entity', () => {
  it('its keeper killed and its orphan adopted, then the pair hung: the new keeper fences it before b starts it', async () => {
    const { a } = await twoNodes(3000);
    const [k] = keepersOf(a);
    expect(k).toBeDefined();
    process.kill(k!.pid, 'SIGKILL'); // e.g. the OOM killer, or a stray kill
    await waitFor('an adopting keeper', () => keepersOf(a).find((x) => x.pid !== k!.pid && x.argv.includes('adopt')), 30_000);
    await waitFor('a renewed since', async () => (await clusterStatus(a)).connected, 30_000);
    for (const pid of daemons(a)) process.kill(pid, 'SIGSTOP'); // the pair hung: nobody renews, nobody takes over
    try {
      await waitFor('db running on b, or two at once', () => witness.overlaps.length > 0 || runningOn('b')(), 30_000);
      expect(witness.overlaps).toEqual([]);
      expect(witness.live().map((x) => x.node)).toEqual(['b']);
    } finally {
      for (const pid of daemons(a)) process.kill(pid, 'SIGCONT');
    }
  });
});
