// Relocation by failure against a real etcd (README "Cluster"): a placed entity whose recovery
// gives up on its node (restart intensity exceeded) moves to the next node by policy; the node
// that gave up does not take it back until `ham reset` there; when every node gave up it stays
// unplaced and status says so. Cluster events on both nodes, and a subscribed execute fires.
// A witness every instance reports to proves no two instances overlapped and tokens rose.
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { failing } from '../helpers/etcd.js';
import { nodesRig } from '../helpers/cluster-rig.js';
import { applyFile, clusterEvents, nodesSeen, placedView, renewedAfter, startNode } from '../helpers/cluster.js';
import { ham, hamJson, lines, status, waitFor } from '../helpers/ham.js';

const rig = nodesRig();
const runningOn = rig.runningOn;

/** A global cluster condition on gave-up: an execute that appends what it was told to HOME/paged. */
const pager = (home: string) => ({
  '*': {
    conditions: {
      page: {
        type: 'cluster',
        rearm: true,
        match: { type: 'gave-up' },
        actions: [
          {
            kind: 'execute',
            argv: ['sh', '-c', 'echo "$HAM_CLUSTER_EVENT $HAM_CLUSTER_ENTITY $HAM_CLUSTER_NODE $HAM_CLUSTER_TOKEN" >> "$0/paged"', home],
          },
        ],
      },
    },
  },
});

describe('relocation by failure', () => {
  it('moves to the next node; the node that gave up takes it back only after ham reset; when all gave up it stays unplaced', async () => {
    const [a, b] = rig.homes.map((h) => h.home) as [string, string];
    const flags = rig.homes[0]!.home;
    await startNode(a, 'a', rig.etcd.url, 3000);
    await startNode(b, 'b', rig.etcd.url, 3000);
    await nodesSeen([a, b], 2);
    await applyFile(a, { entities: pager(a) });
    await applyFile(b, { entities: pager(b) });
    writeFileSync(join(flags, 'fail-a'), '');
    await applyFile(a, {
      entities: {
        db: {
          command: failing(rig.witness.port, flags),
          stop: { timeoutMs: 500 },
          conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
          restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 }, intensity: { max: 1, withinMs: 600_000 } },
          placement: { nodes: ['a', 'b'], policy: 'favored' },
        },
      },
    });
    // On a: it starts, exits 1, is restarted once, exits 1 again: over its intensity, a gives up; b takes it.
    await waitFor('db running on b', runningOn('b'), 60_000);
    expect(rig.witness.overlaps).toEqual([]);
    expect(rig.witness.all.map((w) => w.node)).toEqual(['a', 'a', 'b']);
    const tokenA = rig.witness.all[0]!.token;
    const tokenB = rig.witness.all[2]!.token;
    expect(tokenB).toBeGreaterThan(tokenA);
    // Events on both nodes, with entity, node and token; a's subscribed execute ran.
    await waitFor('a: gave-up and released', async () => {
      const ev = await clusterEvents(a);
      return (
        ev.some((e) => e.event === 'gave-up' && e.entity === 'db' && e.node === 'a' && e.token === String(tokenA)) &&
        ev.some((e) => e.event === 'released' && e.node === 'a')
      );
    });
    await waitFor('b: placed and relocated', async () => {
      const ev = await clusterEvents(b);
      return (
        ev.some((e) => e.event === 'placed' && e.entity === 'db' && e.node === 'b' && e.token === String(tokenB)) &&
        ev.some((e) => e.event === 'relocated' && e.node === 'b' && e.detail === 'from a to b')
      );
    });
    await waitFor('a paged', () => lines(join(a, 'paged')).includes(`gave-up db a ${tokenA}`));
    expect(existsSync(join(b, 'paged'))).toBe(false);
    expect((await status(a)).entities.map((e) => e.name)).not.toContain('db');
    await waitFor('a sees its mark', async () => (await placedView(a, 'db'))?.gaveUp.join() === 'a');
    // a may not be asked to take it back before its reset.
    const back = await ham(b, ['--json', 'relocate', 'db', '--to', 'a']);
    expect(back.code).not.toBe(0);
    expect(back.stdout + back.stderr).toContain('`ham reset db` there first');
    // Now b gives up too (its next instances fail): every node gave up; it stays unplaced, and status says so.
    writeFileSync(join(flags, 'fail-b'), '');
    process.kill((await status(b)).entities.find((e) => e.name === 'db')!.pid!, 'SIGKILL');
    await waitFor('every node gave up', async () => (await placedView(a, 'db'))?.state === 'gave-up', 60_000);
    expect((await placedView(b, 'db'))?.gaveUp).toEqual(['a', 'b']);
    expect(lines(join(b, 'paged'))).toContain(`gave-up db b ${tokenB}`);
    const runs = rig.witness.all.length;
    await renewedAfter(a, 4000); // more than a TTL + 1 s: nobody races for it
    expect(rig.witness.all.length).toBe(runs);
    expect(rig.witness.live()).toEqual([]);
    const start = await ham(a, ['--json', 'start', 'db']);
    expect(start.code).not.toBe(0);
    expect(start.stdout + start.stderr).toContain('every one gave up on it (a, b)');
    // ham reset on a: its mark goes, a runs it again, with a higher token.
    rmSync(join(flags, 'fail-a'));
    const r = await hamJson<{ cluster: string }>(a, ['reset', 'db']);
    expect(r.cluster).toContain('may run it again');
    await waitFor('db running on a again', runningOn('a'), 30_000);
    expect(rig.witness.live()[0]!.token).toBeGreaterThan(tokenB);
    expect(rig.witness.overlaps).toEqual([]);
    expect((await placedView(b, 'db'))?.gaveUp).toEqual(['b']);
  });
});
