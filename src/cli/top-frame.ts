// One screen of `ham top` as plain lines, from what the loop (top.ts) knows:
// the last status, each entity's usage and CPU %, the latest events. Pure, so
// the layout is tested without a terminal; every line fits the width given.
import type { EntityView, StatusView } from '../protocol/views.js';
import { escapeField } from './escape.js';
import { formatBytes, formatDuration, type Usage } from './usage.js';

export type SortKey = 'name' | 'cpu' | 'rss' | 'restarts' | 'uptime';

/** The keys that pick a sort, as shown in the view's second line. */
export const SORT_KEYS: Record<string, SortKey> = { n: 'name', c: 'cpu', m: 'rss', r: 'restarts', u: 'uptime' };

export interface TopRow {
  entity: EntityView;
  usage: Usage;
  /** Over the last interval; undefined until two samples of the same process. */
  cpuPercent: number | undefined;
}

export interface TopModel {
  home: string;
  status: Pick<StatusView, 'ham' | 'guardian'> | undefined;
  rows: TopRow[];
  /** Formatted event lines, oldest first. */
  events: string[];
  sort: SortKey;
  /** Said on the first line: reconnecting, an error. */
  note?: string;
  /** The clock shown (HH:MM:SS), given by the caller. */
  time: string;
  /** Live in a terminal: say which keys do what. */
  keys?: boolean;
}

export interface Frame {
  lines: string[];
  /** The index of the table's heading line (shown in reverse video by the terminal loop). */
  heading: number;
}

const HEAD = ['NAME', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'CPU%', 'RSS', 'READY'];
const NAME_MAX = 32;

function readyText(e: EntityView): string {
  if (!e.readiness) return '-';
  return e.ready ? 'ready' : 'no';
}

function cells(r: TopRow): string[] {
  const e = r.entity;
  const name = e.name.length > NAME_MAX ? `${e.name.slice(0, NAME_MAX - 1)}…` : e.name;
  return [
    escapeField(name),
    e.stoppedByName ? 'stopped (by name)' : e.state,
    String(e.pid ?? '-'),
    formatDuration(r.usage.uptimeMs),
    String(e.restarts),
    r.cpuPercent === undefined ? '-' : r.cpuPercent.toFixed(1),
    formatBytes(r.usage.rssBytes),
    readyText(e),
  ];
}

function sorted(rows: TopRow[], key: SortKey): TopRow[] {
  if (key === 'name') return rows; // the status order: by name
  const by: Record<Exclude<SortKey, 'name'>, (r: TopRow) => number> = {
    cpu: (r) => r.cpuPercent ?? -1,
    rss: (r) => r.usage.rssBytes ?? -1,
    restarts: (r) => r.entity.restarts,
    uptime: (r) => r.usage.uptimeMs ?? -1,
  };
  const f = by[key];
  return [...rows].sort((a, b) => f(b) - f(a) || (a.entity.name < b.entity.name ? -1 : 1));
}

/** Counts per state: "3 entities: 2 running, 1 dead". */
function summary(rows: TopRow[]): string {
  const by = new Map<string, number>();
  for (const r of rows) by.set(r.entity.state, (by.get(r.entity.state) ?? 0) + 1);
  const parts = [...by].map(([s, n]) => `${n} ${s}`);
  return `${rows.length} ${rows.length === 1 ? 'entity' : 'entities'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}

const fit = (s: string, cols: number): string => (s.length <= cols ? s : cols <= 1 ? s.slice(0, cols) : `${s.slice(0, cols - 1)}…`);

/** The screen for a window of `cols` × `rows` (Infinity: everything, as `--once` prints it). */
export function renderFrame(m: TopModel, cols: number, rows: number): Frame {
  const pair = m.status ? `HAM pid ${m.status.ham.pid ?? '-'} (epoch ${m.status.ham.epoch})   Guardian pid ${m.status.guardian.pid ?? '-'}` : 'no status yet';
  const lines = [
    `ham top  ${m.time}  ${pair}${m.note ? `   [${escapeField(m.note)}]` : ''}`,
    `${summary(m.rows)}${m.keys ? `   sort: ${m.sort}   keys: n c m r u sort, q quits` : ''}`,
    escapeField(`home ${m.home}`),
    '',
  ];
  const heading = lines.length;
  const table = sorted(m.rows, m.sort).map(cells);
  // The event pane takes up to a third of a window (at least 3 lines), the table the rest.
  const eventLines = rows === Infinity ? Math.min(m.events.length, 10) : Math.max(3, Math.floor((rows - heading) / 3));
  const room = rows === Infinity ? table.length : Math.max(1, rows - heading - 1 - 2 - eventLines);
  const shown = table.length > room ? table.slice(0, Math.max(0, room - 1)) : table;
  const widths = HEAD.map((h, i) => Math.max(h.length, ...shown.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  lines.push(line(HEAD), ...shown.map(line));
  if (shown.length < table.length) lines.push(`… and ${table.length - shown.length} more (a taller window shows them)`);
  if (table.length === 0) lines.push('no entities attached');
  lines.push('', 'latest events:');
  const recent = m.events.slice(-eventLines);
  lines.push(...(recent.length ? recent.map(escapeField) : ['(none yet)']));
  const out = lines.map((l) => (cols === Infinity ? l : fit(l, cols)));
  return { lines: rows === Infinity ? out : out.slice(0, rows), heading };
}
