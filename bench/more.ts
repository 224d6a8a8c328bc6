// The sections of `npm run bench` added with issues 12, 14 and 16: what a CLI
// call costs beside `node -e 0`, what uptime/CPU/RSS in `ham status` cost
// beside reading the same /proc files bare, and cluster failover beside its TTL.
import { benchCliCpu } from './cli-cpu.js';
import { benchCluster } from './cluster.js';
import { fmt, median, quantile } from './lib.js';
import { benchStatusUsage } from './status-usage.js';

const md = (rs: string[][]): string =>
  [`| ${rs[0]!.join(' | ')} |`, `|${rs[0]!.map(() => '---').join('|')}|`, ...rs.slice(1).map((x) => `| ${x.join(' | ')} |`)].join('\n');

export async function benchMore(quick: boolean): Promise<string> {
  process.stdout.write('CLI CPU...\n');
  const cli = await benchCliCpu(quick ? 10 : 30, 100);
  process.stdout.write('status usage columns...\n');
  const u = await benchStatusUsage(10_000, 200, quick ? 3 : 5);
  const clusters = [];
  for (const [ttl, losses] of quick
    ? [[3000, 3]]
    : [
        [3000, 20],
        [10_000, 20],
      ]) {
    process.stdout.write(`cluster failover, TTL ${ttl} ms...\n`);
    clusters.push(await benchCluster(ttl!, losses!));
  }
  const rows = [
    ['measure', 'result', 'physical limit (same run)', 'ratio', 'target'],
    [
      `one \`ham status\` (${cli.entities} entities), CPU`,
      `${fmt(cli.status)} ms`,
      `${fmt(cli.nodeStart)} ms (\`node -e 0\`)`,
      `${(cli.status / cli.nodeStart).toFixed(2)}×`,
      '-',
    ],
    ['one `ham --help`, CPU', `${fmt(cli.help)} ms`, `${fmt(cli.nodeStart)} ms`, `${(cli.help / cli.nodeStart).toFixed(2)}×`, '-'],
    [
      `uptime, CPU, RSS of ${u.entities} running entities (the CLI reads /proc)`,
      `${fmt(median(u.sampleMs))} ms`,
      `${fmt(median(u.bareMs))} ms (readFileSync of the same files)`,
      `${(median(u.sampleMs) / median(u.bareMs)).toFixed(2)}×`,
      'status --json ≤ 2 s at 10,000',
    ],
    ...clusters.map((c) => [
      `node loss → running on another node (${c.failoverMs.length} losses), TTL ${c.ttlMs} ms`,
      `median ${fmt(median(c.failoverMs))} ms, p99 ${fmt(quantile(c.failoverMs, 0.99))} ms`,
      `${c.ttlMs} ms (the lease TTL)`,
      `${(median(c.failoverMs) / c.ttlMs).toFixed(2)}×`,
      '≤ TTL + 1 s',
    ]),
    ...clusters.map((c) => [
      `etcd requests per node, idle (TTL ${c.ttlMs} ms)`,
      `${c.idleRequestsPerNodeSecond.toFixed(2)}/s`,
      '-',
      '-',
      'one lease keepalive, no polling',
    ]),
  ];
  return `## CLI, status and cluster

The CLI's CPU is the children's utime + stime over the calls. The cluster
rows run two nodes (two pairs) on one real etcd started for the run; a loss
SIGKILLs every process of the owner's node and times until the entity runs
on the other (its witness report).

${md(rows)}`;
}
