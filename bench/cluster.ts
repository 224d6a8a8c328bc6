// Cluster figures (README "Cluster", issue 16 item 6): node loss (every process of the owner
// SIGKILLed) → the placed entity running on the other node, against the TTL; and etcd requests
// per second per node while idle (one lease keepalive every TTL/6, no polling). Against a real
// etcd started here. `node dist/bench/cluster.js [TTL_MS] [LOSSES]` runs it alone.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startEtcd, startWitness, witnessed } from '../test/helpers/etcd.js';
import { ham, hamJson, killAll, tempHome, waitFor } from '../test/helpers/ham.js';
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
  const etcd = await startEtcd();
  const witness = await startWitness();
  const homes = [tempHome(), tempHome()];
  const names = ['a', 'b'];
  const start = async (i: number): Promise<void> => {
    const home = homes[i]!.home;
    await hamJson(home, ['start', '--hang-ms', '3000', '--env', `HAM_TEST_NODE=${names[i]}`]);
  };
  const apply = async (i: number, config: object): Promise<void> => {
    const file = join(homes[i]!.home, 'ham.json');
    writeFileSync(file, JSON.stringify(config));
    const r = await ham(homes[i]!.home, ['--json', 'apply', '-f', file]);
    if (r.code !== 0) throw new Error(`apply: ${r.stdout}${r.stderr}`);
  };
  try {
    await Promise.all([start(0), start(1)]);
    for (const i of [0, 1]) await apply(i, { cluster: { etcd: [etcd.url], node: names[i], ttlMs } });
    await apply(0, { entities: { db: { command: witnessed(witness.port), stop: { timeoutMs: 500 }, placement: { nodes: names } } } });
    await waitFor('db running', () => witness.live().length === 1, 30_000);
    await sleep(2000); // settled: the apply's and the start's requests are over
    const r0 = await etcdRequests(etcd.port);
    const t0 = performance.now();
    await sleep(idleMs);
    const idle = (await etcdRequests(etcd.port)) - r0;
    const idleRequestsPerNodeSecond = idle / 2 / ((performance.now() - t0) / 1000);
    const failoverMs: number[] = [];
    for (let k = 0; k < losses; k++) {
      const owner = names.indexOf(witness.live()[0]!.node);
      const other = names[1 - owner]!;
      const killed = performance.now();
      killAll(homes[owner]!.home);
      await waitFor('running on the other node', () => witness.live().length === 1 && witness.live()[0]!.node === other, 60_000, 5);
      failoverMs.push(performance.now() - killed);
      await start(owner); // back as a candidate (its store keeps its membership)
      await waitFor(
        'back in the cluster',
        async () => (await hamJson<{ nodes: unknown[] }>(homes[owner]!.home, ['cluster', 'status'])).nodes.length === 2,
        30_000,
        100,
      );
    }
    if (witness.overlaps.length) throw new Error(`overlaps: ${witness.overlaps.join('; ')}`);
    return { ttlMs, failoverMs, idleRequestsPerNodeSecond };
  } finally {
    for (const h of homes) h.cleanup();
    await witness.close();
    await etcd.stop();
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
