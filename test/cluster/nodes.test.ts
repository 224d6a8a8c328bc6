// Cluster nodes against a real etcd (README "Cluster"): joining with a `cluster:` block, bad
// input (unreachable etcd, a node name another live node holds), `ham cluster status`, and a
// takeover inside the node continuing the same lease.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEtcd, type TestEtcd } from '../helpers/etcd.js';
import { freePorts } from '../helpers/ports.js';
import { CALM, ham, hamJson, sleeper, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterView } from '../../src/protocol/cluster.js';

let etcd: TestEtcd;
let homes: TestHome[] = [];
beforeEach(async () => {
  etcd = await startEtcd();
  homes = [tempHome(), tempHome()];
});
afterEach(async (ctx) => {
  for (const h of homes) h.cleanup(ctx);
  await etcd.stop();
});

function applyFile(home: string, config: object): ReturnType<typeof ham> {
  const file = join(home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  return ham(home, ['--json', 'apply', '-f', file]);
}

const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

describe('cluster nodes', () => {
  it('an unreachable etcd is a clear error naming the endpoints, and nothing is applied', async () => {
    const [dead] = await freePorts(1);
    const home = homes[0]!.home;
    await hamJson(home, ['start', ...CALM]);
    const r = await applyFile(home, {
      cluster: { etcd: [`http://127.0.0.1:${dead}`], node: 'n1', ttlMs: 3000 },
      entities: { local: { command: sleeper(`unreached-${dead}`) } },
    });
    expect(r.code).not.toBe(0);
    const err = JSON.parse(r.stdout || r.stderr) as { error: { code: string; message: string } };
    expect(err.error.code).toBe('cluster-unreachable');
    expect(err.error.message).toContain(`http://127.0.0.1:${dead}`);
    expect(err.error.message).toContain('nothing was applied');
    expect((await status(home)).entities.map((e) => e.name)).not.toContain('local');
    const placed = await applyFile(home, { entities: { db: { command: sleeper('never-placed'), placement: { nodes: ['n1'] } } } });
    expect(placed.code).not.toBe(0);
    // The runtime was loaded by the first apply: the file's check says it (a HAM that never had one says not-in-cluster).
    expect(placed.stdout + placed.stderr).toContain('placed entities need one');
    const cs = await ham(home, ['--json', 'cluster', 'status']);
    expect(cs.code).not.toBe(0);
    expect(cs.stdout + cs.stderr).toContain('not-in-cluster');
  });

  it('a bad cluster block is refused with its path; placed entities with no cluster are refused', async () => {
    const home = homes[0]!.home;
    await hamJson(home, ['start', ...CALM]);
    const placed = await applyFile(home, { entities: { db: { command: sleeper('never-placed'), placement: { nodes: ['n1'] } } } });
    expect(placed.code).not.toBe(0);
    expect(placed.stdout + placed.stderr).toContain('not-in-cluster');
    const r = await applyFile(home, { cluster: { etcd: ['127.0.0.1:2379'], node: 'n1', ttlMs: 500 } });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('cluster.etcd');
    expect(r.stdout + r.stderr).toContain('cluster.ttlMs');
  });

  it('two nodes join; a node name held by another live node is refused; status shows both', async () => {
    const [a, b] = homes.map((h) => h.home) as [string, string];
    await Promise.all([hamJson(a, ['start', ...CALM]), hamJson(b, ['start', ...CALM])]);
    const block = (node: string) => ({ etcd: [etcd.url], node, ttlMs: 3000 });
    expect((await applyFile(a, { cluster: block('n1') })).code).toBe(0);
    const taken = await applyFile(b, { cluster: block('n1'), entities: { local: { command: sleeper('never-applied') } } });
    expect(taken.code).not.toBe(0);
    expect(taken.stdout + taken.stderr).toContain('node-taken');
    expect((await status(b)).entities.map((e) => e.name)).not.toContain('local');
    expect((await applyFile(b, { cluster: block('n2') })).code).toBe(0);
    const s = await waitFor('both nodes seen', async () => {
      const v = await clusterStatus(a);
      return v.nodes.length === 2 && v.connected ? v : undefined;
    });
    expect(s.node).toBe('n1');
    expect(s.nodes.map((n) => n.name).sort()).toEqual(['n1', 'n2']);
    expect(s.nodes.find((n) => n.self)?.name).toBe('n1');
    expect(s.lease).toBe(s.nodes.find((n) => n.self)?.lease);
    const text = await ham(a, ['cluster', 'status']);
    expect(text.stdout).toContain('node n1');
    expect(text.stdout).toContain('connected');
  });

  it('a takeover inside the node continues the same lease', async () => {
    const a = homes[0]!.home;
    await hamJson(a, ['start', ...CALM]);
    expect((await applyFile(a, { cluster: { etcd: [etcd.url], node: 'n1', ttlMs: 3000 } })).code).toBe(0);
    const before = await waitFor('connected', async () => ((await clusterStatus(a)).connected ? clusterStatus(a) : undefined));
    const s0 = await status(a);
    process.kill(s0.ham.pid!, 'SIGKILL');
    const after = await waitFor(
      'the new HAM renewing',
      async () => {
        const s = await status(a);
        if (s.ham.pid === s0.ham.pid) return undefined;
        const v = await clusterStatus(a);
        return v.connected && v.lastRenewal !== before.lastRenewal ? v : undefined;
      },
      30_000,
      100,
    );
    expect(after.lease).toBe(before.lease);
    expect(after.nodes.map((n) => n.name)).toEqual(['n1']);
  });
});
