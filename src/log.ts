// Structured log lines (JSON, one per line) on stderr, which the daemon
// points at <home>/logs/ham.log. Small enough not to need a library.
export type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  (level: Level, msg: string, fields?: Record<string, unknown>): void;
  role: string;
}

export function createLogger(role: string): Logger {
  const log = ((level: Level, msg: string, fields?: Record<string, unknown>) => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, role: log.role, pid: process.pid, msg, ...fields })}\n`);
  }) as Logger;
  log.role = role;
  return log;
}
