// Structured log lines (JSON, one per line) on stderr, which the daemon
// points at <home>/logs/ham.log. Small enough not to need a library.
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  (level: Level, msg: string, fields?: Record<string, unknown>): void;
  /** Several lines in one write (a batch of log actions). */
  many(lines: { level: Level; msg: string; fields?: Record<string, unknown> }[]): void;
  role: string;
}

export function createLogger(role: string): Logger {
  const line = (level: Level, msg: string, fields?: Record<string, unknown>): string =>
    `${JSON.stringify({ time: new Date().toISOString(), level, role: log.role, pid: process.pid, msg, ...fields })}\n`;
  const log = ((level: Level, msg: string, fields?: Record<string, unknown>) => {
    process.stderr.write(line(level, msg, fields));
  }) as Logger;
  log.many = (lines) => void process.stderr.write(lines.map((l) => line(l.level, l.msg, l.fields)).join(''));
  log.role = role;
  return log;
}
