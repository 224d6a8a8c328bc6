// One line of an entity's log as the keeper writes it (src/keeper/keeper-log.c):
//   2026-12-01T18:46:03.123Z out 3 the text, escaped
// UTC time, stream (out | err | ham: the keeper's own notes), HAM_INSTANCE, text.

export type LogStream = 'stdout' | 'stderr' | 'ham';

export interface LogLine {
  /** ISO 8601, UTC, ms: strings compare as times do. */
  time: string;
  entity: string;
  stream: LogStream;
  instance: number;
  /** The text: the keeper's \\, \t and \r undone; bytes it wrote as \xNN stay so (not text). */
  line: string;
}

const STREAMS: Record<string, LogStream> = { out: 'stdout', err: 'stderr', ham: 'ham' };
const SHAPE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (out|err|ham) (\d{1,15}) (.*)$/s;

/** A stored line as data; undefined for one that is not in the keeper's shape (a torn write). */
export function parseLogLine(entity: string, raw: string): LogLine | undefined {
  const m = SHAPE.exec(raw);
  if (!m) return undefined;
  const text = m[4]!.includes('\\') ? m[4]!.replace(/\\([\\tr])/g, (_s, c: string) => (c === 't' ? '\t' : c === 'r' ? '\r' : '\\')) : m[4]!;
  return { time: m[1]!, entity, stream: STREAMS[m[2]!]!, instance: Number(m[3]), line: text };
}

/** As `ham logs` prints it: the stored shape, and the entity's name first when several are shown. */
export function formatLogLine(l: LogLine, withName: boolean): string {
  const s = l.stream === 'stdout' ? 'out' : l.stream === 'stderr' ? 'err' : 'ham';
  return `${withName ? `${l.entity} | ` : ''}${l.time} ${s} ${l.instance} ${l.line}`;
}

/** Lines of several entities in time order (stable: one entity's own order is kept). */
export function byTime(a: LogLine, b: LogLine): number {
  return a.time < b.time ? -1 : a.time > b.time ? 1 : 0;
}
