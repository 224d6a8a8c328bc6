// A placed entity's orphan, adopted by a new keeper after its keeper was killed, is fenced
// like a child (the review's H2): with the pair hung, the adopting keeper stops it at its
// deadline before the lease expires and node b starts it; a witness every instance reports
// to with its fencing token proves no two instances ever overlap.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keeperProcesses } from '../../src/proc/keepers.js';
import type { ClusterView } from '../../src/protocol/cluster.js';
import { startEtcd, startProxy, startWitness, witnessed, type TestEtcd } from '../helpers/etcd.js';
import { CALM, daemons, ham, hamJson, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let etcd: TestEtcd;
let witness: Awaited<ReturnType<typeof startWitness>>;
let proxy: Awaited<ReturnType<typeof startProxy>>;
let homes: TestHome[] = [];
beforeEach(async () => {
  etcd = await startEtcd();
  witness = await startWitness();
  proxy = await startProxy(etcd.port);
  homes = [tempHome(), tempHome()];
});
afterEach(async (ctx) => {
  for (const h of homes) h.cleanup(ctx);
  await proxy.close();
  await witness.close();
  await etcd.stop();
});

async function applyFile(home: string, config: object): Promise<{ changes: { entity: string; details: string[] }[] }> {
  const file = join(home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  const r = await ham(home, ['--json', 'apply', '-f', file]);
  if (r.code !== 0) throw new Error(`apply failed: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as { changes: { entity: string; details: string[] }[] };
}

const clusterStatus = (home: string): Promise<ClusterView> => hamJson<ClusterView>(home, ['cluster', 'status']);

/** Nodes a (its etcd through the proxy) and b; `db` placed on them, favored a; running on a. */
async function twoNodes(ttlMs: number): Promise<{ a: string; b: string; token: number }> {
  const [a, b] = homes.map((h) => h.home) as [string, string];
  await Promise.all([hamJson(a, ['start', ...CALM, '--env', 'HAM_TEST_NODE=a']), hamJson(b, ['start', ...CALM, '--env', 'HAM_TEST_NODE=b'])]);
  await applyFile(a, { cluster: { etcd: [proxy.url], node: 'a', ttlMs } });
  await applyFile(b, { cluster: { etcd: [etcd.url], node: 'b', ttlMs } });
  await waitFor('both nodes seen from a', async () => (await clusterStatus(a)).nodes.length === 2);
  await applyFile(a, { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: ['a', 'b'], policy: 'favored' } } } });
  const first = await waitFor(
    'db running on a',
    () => (witness.live().length === 1 && witness.live()[0]!.node === 'a' ? witness.live()[0] : undefined),
    30_000,
  );
  expect(first.token).toBeGreaterThan(0);
  return { a, b, token: first.token };
}

const runningOn = (node: string) => () => witness.live().length === 1 && witness.live()[0]!.node === node;

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
