// ham detectors: what each detector is, how it is doing, and why one is refused.
import type { Command } from 'commander';
import type { DetectorsView } from '../protocol/views.js';
import { call, globals } from './call.js';
import { escapeField as f } from './escape.js';
import { failureText } from './format.js';
import { emit } from './output.js';

export function formatDetectors(r: DetectorsView): string {
  const out = [`detectors in ${r.dir}${r.refused ? ` — REFUSED: ${f(r.refused)}` : ''}`];
  if (r.detectors.length === 0) out.push('  (none)');
  for (const d of r.detectors) {
    const how =
      d.kind === 'check'
        ? `check every ${d.intervalMs} ms, timeout ${d.timeoutMs} ms, tries ${d.tries}`
        : d.kind === 'stream'
          ? `stream${d.pid ? ` pid ${d.pid}` : ''}`
          : '-';
    out.push(
      `  ${d.name}  ${d.state}  ${how}${d.entity ? `  → ${d.entity}` : ''}  runs ${d.runs}${d.failures ? `, ${d.failures} failing` : ''}${d.badLines ? `, ${d.badLines} bad lines` : ''}${d.dropped ? `, ${d.dropped} dropped` : ''}`,
    );
    if (d.lastResult) out.push(`      last: ${f(d.lastResult)}${d.lastAt ? ` (${d.lastAt})` : ''}`);
    if (d.lastFailure) out.push(`      failure: ${failureText(d.lastFailure)}`);
    if (d.reason) out.push(`      why: ${f(d.reason)}`);
    if (d.kind) out.push(`      output: ham logs ${f(d.output)}`);
  }
  return out.join('\n');
}

export function registerDetectorCommands(program: Command): void {
  program
    .command('detectors')
    .description('each detector: kind, entity, state (running, healthy, failing, misconfigured, refused, crashed), last result')
    .action(async (_o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'detectors', {});
      emit(g, r, () => formatDetectors(r));
    });
}
