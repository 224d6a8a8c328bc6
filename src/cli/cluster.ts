// ham cluster status: this node's view of the cluster (README "Cluster").
import type { Command } from 'commander';
import type { ClusterView } from '../protocol/cluster.js';
import { call, globals } from './call.js';
import { escapeField as f } from './escape.js';
import { emit } from './output.js';

export function formatCluster(r: ClusterView): string {
  const out = [
    `node ${f(r.node)}  etcd ${r.etcd.join(', ')}  ${r.connected ? 'connected' : 'NOT CONNECTED'}  lease ${r.lease ?? '-'}  ttl ${r.ttlMs} ms`,
    `  last renewal: ${r.lastRenewal ?? 'never'}${r.lastError ? `  last error: ${f(r.lastError)}` : ''}`,
    ...(r.tls ? [`  tls: ca ${f(r.tls.ca)}${r.tls.cert ? `  client certificate ${f(r.tls.cert)}` : ''} (as read at apply)`] : []),
    'nodes:',
    ...(r.nodes.length ? r.nodes.map((n) => `  ${f(n.name)}${n.self ? ' (this node)' : ''}  lease ${n.lease}`) : ['  (none seen)']),
    'placed entities:',
  ];
  if (r.placed.length === 0) out.push('  (none)');
  for (const p of r.placed)
    out.push(
      `  ${f(p.name)}  ${p.state}  owner ${p.owner ? f(p.owner) : '-'}  token ${p.token ?? '-'}  ${p.policy} [${p.nodes.map(f).join(', ')}]` +
        (p.unknownNodes.length ? `  unknown nodes: ${p.unknownNodes.map(f).join(', ')}` : '') +
        (p.gaveUp.length ? `  gave up: ${p.gaveUp.map(f).join(', ')} (\`ham reset ${f(p.name)}\` there)` : '') +
        (p.failback ? '  failback' : '') +
        (p.since ? `  since ${p.since}` : ''),
    );
  return out.join('\n');
}

export function registerClusterCommands(program: Command): void {
  program
    .command('relocate')
    .description('move a placed entity to another node (run on the node that runs it): stopped here, then started there')
    .argument('<name>', 'the placed entity')
    .option('--to <node>', 'the node to move it to (default: the next by its policy, this node last)')
    .action(async (name: string, o: { to?: string }, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'cluster-relocate', { name, ...(o.to !== undefined ? { to: o.to } : {}) });
      emit(g, r, () => `${r.name}: stopped on ${r.from}, released${r.to ? ` to ${r.to}` : ''}`);
    });
  const cluster = program.command('cluster').description('the cluster this node joined (a `cluster:` block in an applied file)');
  cluster
    .command('status')
    .description('nodes and their leases, placed entities (owner, fencing token), and this node’s view of etcd')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'cluster-status', {});
      emit(g, r, () => formatCluster(r));
    });
}
