// Signal and errno numbers as names. Where Linux has aliases the first name
// wins: SIGABRT (not SIGIOT), SIGIO (not SIGPOLL), EAGAIN (not EWOULDBLOCK).
import { constants } from 'node:os';

function reverse(table: Record<string, number>): Map<number, string> {
  const m = new Map<number, string>();
  for (const [name, n] of Object.entries(table)) if (!m.has(n)) m.set(n, name);
  return m;
}

const SIGNALS = reverse(constants.signals);
const ERRNOS = reverse(constants.errno);

export const signalName = (n: number): string => SIGNALS.get(n) ?? `SIG${n}`;
export const errnoName = (n: number): string => ERRNOS.get(n) ?? `errno ${n}`;
