// A placed entity after its node comes back from a reboot (README "Cluster"): its HAM never starts it
// from the store alone, only with a live grant from the cluster runtime (this node owns it again).
// Proven by a witness every instance reports to with its fencing token (no two overlap, tokens rise).
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/protocol/cluster.js';
import { clusterEvents, twoNodesDb, type ClusterWorld } from '../helpers/cluster.js';
import type { Witness } from '../helpers/etcd.js';
import { CALM, hamJson, killAll, status, waitFor } from '../helpers/ham.js';

/** A plain restart at once (no backoff): what a HAM coming back does first for an entity whose process is gone. */
const RESTART_AT_ONCE = {
  conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
  restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 } },
};

let world: ClusterWorld | undefined;
let witness: Witness;
let proxy: ClusterWorld['proxy'];
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

/** Nodes a (its etcd through the proxy) and b; `db` placed on them, favored a; running on a (helpers/cluster.ts). */
async function twoNodes(ttlMs: number): Promise<{ a: string; b: string; token: number }> {
  const r = await twoNodesDb(ttlMs, RESTART_AT_ONCE);
  world = r.world;
  ({ witness, proxy } = r.world);
  return r;
}

const runningOn = (node: string) => () => world!.runningOn(node)();

describe('a placed entity after its node comes back', () => {
  it('a node whose processes all died (a reboot) and whose HAM starts again, cut from etcd, does not start db while b runs it', async () => {
    const { a } = await twoNodes(3000);
    killAll(a); // every process of node a: HAM, Guardian, keepers, db (a reboot)
    await waitFor('db running on b', runningOn('b'), 30_000);
    proxy.cut(); // a comes back but cannot reach etcd (or just before its cluster runtime reconciles)
    await hamJson(a, ['start', ...CALM, '--env', 'HAM_TEST_NODE=a']);
    // a's HAM resumes db from the store: its start is refused (no grant: it cannot reach etcd to see
    // who owns it) and, its stored renewal long past, it is released here (a `released` event), the
    // record gone: a runs it only once it owns it again. Any second instance would show first.
    const released = await waitFor(
      'db released on a, or a second instance',
      async () => witness.overlaps.length > 0 || (await clusterEvents(a)).some((e) => e.event === 'released' && e.entity === 'db' && e.node === 'a'),
      30_000,
      100,
    );
    expect(released).toBe(true);
    expect((await status(a)).entities.map((e) => e.name)).not.toContain('db');
    expect(witness.overlaps).toEqual([]);
    expect(runningOn('b')()).toBe(true);
    // etcd back and b gone: a owns it again and starts it, with a higher token.
    proxy.mend();
    await waitFor('a connected', async () => (await clusterStatus(a)).connected, 30_000);
    const before = witness.live()[0]!.token;
    killAll(world!.homes.b!);
    await waitFor('db running on a again', runningOn('a'), 30_000);
    expect(witness.live()[0]!.token).toBeGreaterThan(before);
    expect(witness.overlaps).toEqual([]);
  });
});
