// A placed entity after its node comes back from a reboot (README "Cluster"): its HAM never starts it
// from the store alone, only with a live grant from the cluster runtime (this node owns it again).
// Proven by a witness every instance reports to with its fencing token (no two overlap, tokens rise).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ClusterView } from '../../src/protocol/cluster.js';
import { startEtcd, startProxy, startWitness, witnessed, type TestEtcd } from '../helpers/etcd.js';
import { CALM, daemons, ham, hamJson, killAll, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

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
  await applyFile(a, {
    entities: {
      db: {
        command: witnessed(witness.port),
        stop: { timeoutMs: 500 },
        // A plain restart at once (no backoff): what a HAM coming back does first for an entity whose process is gone.
        conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
        restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 } },
        placement: { nodes: ['a', 'b'], policy: 'favored' },
      },
    },
  });
  const first = await waitFor(
    'db running on a',
    () => (witness.live().length === 1 && witness.live()[0]!.node === 'a' ? witness.live()[0] : undefined),
    30_000,
  );
  expect(first.token).toBeGreaterThan(0);
  return { a, b, token: first.token };
}

const runningOn = (node: string) => () => witness.live().length === 1 && witness.live()[0]!.node === node;

describe('a placed entity after its node comes back', () => {
  it('a node whose processes all died (a reboot) and whose HAM starts again, cut from etcd, does not start db while b runs it', async () => {
    const { a } = await twoNodes(3000);
    killAll(a); // every process of node a: HAM, Guardian, keepers, db (a reboot)
    await waitFor('db running on b', runningOn('b'), 30_000);
    proxy.cut(); // a comes back but cannot reach etcd (or just before its cluster runtime reconciles)
    await hamJson(a, ['start', ...CALM, '--env', 'HAM_TEST_NODE=a']);
    // Give a's HAM time to resume its entities; any second instance shows in the witness.
    await waitFor('a serving', async () => (await status(a)).ham.pid !== null, 30_000);
    await waitFor(
      'a second instance, or none for 4 s',
      async () => witness.overlaps.length > 0 || (await new Promise((r) => setTimeout(r, 4000)), true),
      30_000,
    );
    expect(witness.overlaps).toEqual([]);
    expect(runningOn('b')()).toBe(true);
    // etcd back and b gone: a owns it again and starts it, with a higher token.
    proxy.mend();
    await waitFor('a connected', async () => (await clusterStatus(a)).connected, 30_000);
    const before = witness.live()[0]!.token;
    killAll(homes[1]!.home);
    await waitFor('db running on a again', runningOn('a'), 30_000);
    expect(witness.live()[0]!.token).toBeGreaterThan(before);
    expect(witness.overlaps).toEqual([]);
  });
});
