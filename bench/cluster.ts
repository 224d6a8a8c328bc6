// Cluster figures (README "Cluster", issue 16 item 6): node loss (every process of the owner
// SIGKILLed) → the placed entity running on the other node, against the TTL; and etcd requests
// per second per node while idle (one lease keepalive every TTL/6, no polling). Against a real
// etcd started here. `node dist/bench/cluster.js [TTL_MS] [LOSSES]` runs it alone.
import { pathToFileURL } from 'node:url';
import { clusterWorld } from '../test/helpers/cluster.js';
import { witnessed } from '../test/helpers/etcd.js';
import { killAll, waitFor } from '../test/helpers/ham.js';
import { fmt, median, quantile, sleep } from './lib.js';

export interface ClusterResult {
  ttlMs: number;
  /** Kill of the owner node → the instance on the other node reported to the witness (ms). */
  failoverMs: number[];
  /** etcd gRPC requests per second per node, two nodes and one placed entity, idle. */
  idleRequestsPerNodeSecond: number;
}

async function etcdRequests(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let n = 0;
  for (const line of text.split('\n')) if (line.startsWith('grpc_server_started_total')) n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

export async function benchCluster(ttlMs: number, losses: number, idleMs = 10_000): Promise<ClusterResult> {
  const world = await clusterWorld({ nodes: ['a', 'b'], ttlMs });
  const { witness, homes } = world;
  const names = ['a', 'b'];
  try {
    await world.apply('a', { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: names } } } });
    await waitFor('db running', () => witness.live().length === 1, 30_000);
    await sleep(2000); // settled: the apply's and the start's requests are over
    const r0 = await etcdRequests(world.etcd.port);
    const t0 = performance.now();
    await sleep(idleMs);
    const idle = (await etcdRequests(world.etcd.port)) - r0;
    const idleRequestsPerNodeSecond = idle / 2 / ((performance.now() - t0) / 1000);
    const failoverMs: number[] = [];
    for (let k = 0; k < losses; k++) {
      const owner = witness.live()[0]!.node;
      const other = names.find((n) => n !== owner)!;
      const killed = performance.now();
      killAll(homes[owner]!);
      await waitFor('running on the other node', world.runningOn(other, 'db'), 60_000, 5);
      failoverMs.push(performance.now() - killed);
      await world.startPair(owner); // back as a candidate (its store keeps its membership)
      await waitFor('back in the cluster', async () => (await world.status(owner)).nodes.length === 2, 30_000, 100);
    }
    if (witness.overlaps.length) throw new Error(`overlaps: ${witness.overlaps.join('; ')}`);
    return { ttlMs, failoverMs, idleRequestsPerNodeSecond };
  } finally {
    await world.cleanup();
  }
}

export function clusterSummary(r: ClusterResult): string {
  return (
    `node loss → running on the other node, TTL ${r.ttlMs} ms: median ${fmt(median(r.failoverMs))} ms, p99 ${fmt(quantile(r.failoverMs, 0.99))} ms ` +
    `(${r.failoverMs.length} losses; target ≤ TTL + 1 s); idle etcd requests: ${r.idleRequestsPerNodeSecond.toFixed(2)}/s per node`
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ttl = Number(process.argv[2] ?? 3000);
  const n = Number(process.argv[3] ?? 5);
  benchCluster(ttl, n).then(
    (r) => process.stdout.write(`${clusterSummary(r)}\n`),
    (e: Error) => (process.stderr.write(`${e.stack}\n`), process.exit(1)),
  );
}
