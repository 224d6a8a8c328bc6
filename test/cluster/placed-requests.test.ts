// `ham stop NAME` of a placed entity right after a takeover, etcd unreachable (README "Cluster";
// src/cluster/placed-requests.ts): the new HAM has reconciled nothing yet, but the entity is
// still a placed one (owned here, its fencing token in its env). The stop goes the cluster way
// and fails with a clear `cluster-unreachable`: nothing is done locally (a local stop would be
// undone once etcd answers). Against a real etcd, with a witness every instance reports to.
import { afterEach, describe, expect, it } from 'vitest';
import { placedView, renewedAfter, twoNodesDb, type ClusterWorld } from '../helpers/cluster.js';
import { ham, status, waitFor } from '../helpers/ham.js';

let world: ClusterWorld | undefined;
afterEach(async (ctx) => {
  await world?.cleanup(ctx);
  world = undefined;
});

describe('a request for a placed entity before the first reconcile', () => {
  it('ham stop NAME on its owner, cut from etcd after a takeover: cluster-unreachable, nothing stopped', async () => {
    const r = await twoNodesDb(15_000); // a TTL long enough for db to outlive the takeover and the request
    world = r.world;
    const { a } = r;
    r.world.proxy.cut();
    const old = (await status(a)).ham.pid!;
    process.kill(old, 'SIGKILL'); // its Guardian takes over; the new HAM cannot reach etcd
    await waitFor('the new HAM serving', async () => ((await status(a)).ham.pid ?? old) !== old, 30_000, 100);
    const stop = await ham(a, ['--json', 'stop', 'db', '--wait']);
    expect(stop.code).not.toBe(0);
    const err = JSON.parse(stop.stdout || stop.stderr) as { error: { code: string; message: string; entity?: string } };
    expect(err.error.code).toBe('cluster-unreachable');
    expect(err.error.message).toContain('stop db: expected etcd to answer');
    expect(r.world.witness.all).toHaveLength(1);
    expect((await status(a)).entities.find((e) => e.name === 'db')?.state).not.toBe('stopped');
    // etcd back: a still owns it and it still runs there, the same instance (never stopped, nothing undone).
    r.world.proxy.mend();
    await renewedAfter(a, 0);
    await waitFor('a sees db running here', async () => (await placedView(a, 'db'))?.state === 'running', 30_000, 100);
    expect(r.world.runningOn('a', 'db')()).toBe(true);
    expect(r.world.witness.all).toHaveLength(1);
    expect(r.world.witness.overlaps).toEqual([]);
  }, 120_000);
});
