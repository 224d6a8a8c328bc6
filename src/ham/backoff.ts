// When to restart an entity that died. A process that ran for a while is
// restarted at once; one that keeps dying young waits longer each time, so a
// broken command does not spin. (Issue 6 makes this configurable per entity.)
export const STABLE_UPTIME_MS = 1000;
export const FIRST_BACKOFF_MS = 100;
export const MAX_BACKOFF_MS = 5000;

export interface Backoff {
  delayMs: number;
  nextBackoffMs: number;
}

export function nextBackoff(backoffMs: number, uptimeMs: number | null): Backoff {
  if (uptimeMs !== null && uptimeMs >= STABLE_UPTIME_MS) return { delayMs: 0, nextBackoffMs: 0 };
  return { delayMs: backoffMs, nextBackoffMs: Math.min(Math.max(backoffMs * 2, FIRST_BACKOFF_MS), MAX_BACKOFF_MS) };
}
