// `ham detach NAME` of a placed entity removes it from the cluster (README "Cluster"), against a
// real etcd: its definition, its gave-up marks, its stopped key go in one transaction on any node;
// its owner stops it and releases it; no node places it again until it is applied again, and then
// every node may run it (the marks are gone). A witness every instance reports to proves no two
// instances overlapped and tokens rose.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { failing, witnessed } from '../helpers/etcd.js';
import { nodesRig } from '../helpers/cluster-rig.js';
import { applyFile, nodesSeen, placedView, renewedAfter, startNode } from '../helpers/cluster.js';
import { ham, hamJson, status, waitFor } from '../helpers/ham.js';

const rig = nodesRig();
const runningOn = rig.runningOn;

/** The keys under the default prefix that name `name` (defs/NAME, owners/NAME, gaveup/NAME/NODE...). */
async function keysOf(name: string): Promise<string[]> {
  const etcd = new Etcd3({ hosts: rig.etcd.url });
  try {
    const keys = await etcd.getAll().prefix('/ham/').keys();
    return keys.filter((k) => k.split('/')[3] === name).sort();
  } finally {
    etcd.close();
  }
}

async function twoNodes(): Promise<[string, string]> {
  const [a, b] = rig.homes.map((h) => h.home) as [string, string];
  await startNode(a, 'a', rig.etcd.url, 3000);
  await startNode(b, 'b', rig.etcd.url, 3000);
  await nodesSeen([a, b], 2);
  return [a, b];
}

interface Detached {
  detached: string;
  cluster?: string;
}

describe('a placed entity removed from the cluster (ham detach)', () => {
  it('from a node that does not run it: stopped on its owner, its definition and gave-up mark gone; applied again, the node that gave up may run it', async () => {
    const [a, b] = await twoNodes();
    const flags = rig.homes[0]!.home;
    writeFileSync(join(flags, 'fail-a'), '');
    const db = {
      command: failing(rig.witness.port, flags),
      stop: { timeoutMs: 500 },
      conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
      restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 }, intensity: { max: 1, withinMs: 600_000 } },
      placement: { nodes: ['a', 'b'], policy: 'favored' },
    };
    await applyFile(a, { entities: { db } });
    await waitFor('db running on b (a gave up on it)', runningOn('b'), 60_000);
    expect(await keysOf('db')).toEqual(['/ham/defs/db', '/ham/gaveup/db/a', '/ham/owners/db']);

    const r = await hamJson<Detached>(a, ['detach', 'db']);
    expect(r).toEqual({ detached: 'db', cluster: 'db: removed from the cluster (stopping on b); an apply of it places it again' });
    await waitFor('db stopped on b', () => rig.witness.live().length === 0, 30_000);
    await waitFor('no key of db left', async () => (await keysOf('db')).length === 0, 30_000);
    await waitFor('b keeps no record of it', async () => !(await status(b)).entities.some((e) => e.name === 'db'), 30_000);
    expect(await placedView(a, 'db')).toBeUndefined();
    await renewedAfter(a, 4000); // past a TTL + 1 s: nobody places it again
    expect(rig.witness.all.map((w) => w.node)).toEqual(['a', 'a', 'b']);

    rmSync(join(flags, 'fail-a'));
    await applyFile(b, { entities: { db } }); // from any node; a's mark went with the rest
    await waitFor('db running on a again', runningOn('a'), 30_000);
    const tokens = rig.witness.all.map((w) => w.token);
    expect(tokens[3]!).toBeGreaterThan(tokens[2]!);
    expect(rig.witness.overlaps).toEqual([]);
  }, 180_000);

  it('on its owner: stopped before the answer; one stopped cluster-wide, removed too; the stopped key goes with it', async () => {
    const [a, b] = await twoNodes();
    const db = { command: witnessed(rig.witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'], policy: 'favored' } };
    await applyFile(a, { entities: { db } });
    await waitFor('db running on a', runningOn('a'), 30_000);

    const here = await hamJson<Detached>(a, ['detach', 'db']);
    expect(here.cluster).toBe('db: removed from the cluster (stopped here); an apply of it places it again');
    expect(rig.witness.live()).toEqual([]);
    expect((await status(a)).entities.map((e) => e.name)).not.toContain('db');
    await waitFor('no key of db left', async () => (await keysOf('db')).length === 0, 30_000);
    // Not placed any more: a plain detach of the name now is an unknown entity, on either node.
    const unknown = await ham(b, ['--json', 'detach', 'db']);
    expect(unknown.code).not.toBe(0);
    expect((JSON.parse(unknown.stdout || unknown.stderr) as { error: { code: string } }).error.code).toBe('unknown-entity');

    await applyFile(b, { entities: { db } });
    await waitFor('db running on a again', runningOn('a'), 30_000);
    await hamJson(b, ['stop', 'db']);
    await waitFor('db stopped', () => rig.witness.live().length === 0, 30_000);
    expect(await keysOf('db')).toEqual(['/ham/defs/db', '/ham/stopped/db']);
    const nowhere = await hamJson<Detached>(b, ['detach', 'db']);
    expect(nowhere.cluster).toBe('db: removed from the cluster (it ran nowhere); an apply of it places it again');
    expect(await keysOf('db')).toEqual([]);
    await applyFile(a, { entities: { db } }); // placed again: no stopped key left to hold it
    await waitFor('db running on a a third time', runningOn('a'), 30_000);
    expect(rig.witness.all).toHaveLength(3);
    expect(rig.witness.overlaps).toEqual([]);
  }, 180_000);
});
