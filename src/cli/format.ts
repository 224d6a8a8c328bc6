// Human-readable status.
import type { EntityView, StatusView } from '../ham/status.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function exitText(e: EntityView): string {
  if (!e.lastExit) return e.lastError ? 'exec failed' : '-';
  if (e.lastExit.signal) return e.lastExit.signal;
  return e.lastExit.code === null ? 'unknown' : `code ${e.lastExit.code}`;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

export function formatPair(s: StatusView): string {
  return `HAM pid ${s.ham.pid ?? '-'} (epoch ${s.ham.epoch}, ${plural(s.ham.failures, 'failure')})   Guardian pid ${s.guardian.pid ?? '-'} (${plural(s.guardian.failures, 'failure')})`;
}

export function formatStatus(s: StatusView): string {
  const head = formatPair(s);
  if (s.entities.length === 0) return `${head}\nno entities attached`;
  const rows = [['NAME', 'KIND', 'STATE', 'PID', 'RESTARTS', 'DEATHS', 'LAST EXIT', 'COMMAND']];
  for (const e of s.entities) rows.push([e.name, e.kind, e.state, String(e.pid ?? '-'), String(e.restarts), String(e.deaths), exitText(e), e.argv.join(' ')]);
  return `${head}\n\n${table(rows)}`;
}

export function formatEntity(e: EntityView): string {
  const lines: [string, string][] = [
    ['name', e.name],
    ['kind', e.kind],
    ['state', e.state],
    ['pid', String(e.pid ?? '-')],
    ['command', e.argv.join(' ')],
    ['cwd', e.cwd],
    ['restart on death', e.restart ? 'yes' : 'no'],
    ['instance', String(e.instance)],
    ['restarts', String(e.restarts)],
    ['deaths', String(e.deaths)],
    ['last exit', exitText(e)],
    ['keeper pid', String(e.keeperPid ?? '-')],
    ['started at', e.startedAt ?? '-'],
  ];
  if (e.restartAt) lines.push(['next restart at', e.restartAt]);
  if (e.lastError) lines.push(['last error', e.lastError]);
  return table(lines.map(([k, v]) => [`${k}:`, v]));
}
