// Recovery policy per entity: how long to wait before a restart (backoff),
// and how many restarts are allowed within a window (intensity) before the
// entity escalates and ends `failed`. Pure functions over what the store
// keeps, so a takeover computes exactly what the previous HAM would have.
import type { RestartPolicy } from '../model/records.js';

/** After a zero delay, the next one starts from this (then grows by `factor`). */
export const MIN_STEP_MS = 100;

export interface Backoff {
  delayMs: number;
  /** The delay to use after the next quick death. */
  nextBackoffMs: number;
}

/**
 * The delay for this restart. A process that ran at least `resetAfterMs` is
 * restarted after `initialMs` (at once by default); one that keeps dying young
 * waits `backoffMs`, which grows by `factor` up to `maxMs`.
 */
export function nextBackoff(p: RestartPolicy['backoff'], backoffMs: number, uptimeMs: number | null): Backoff {
  const delayMs = uptimeMs !== null && uptimeMs >= p.resetAfterMs ? p.initialMs : Math.max(backoffMs, p.initialMs);
  return { delayMs, nextBackoffMs: Math.min(Math.max(delayMs * p.factor, MIN_STEP_MS), p.maxMs) };
}

/**
 * Restarts within the window, including one now; `over` when that is more than
 * the intensity allows (the caller escalates instead of restarting).
 */
export function intensity(p: RestartPolicy['intensity'], times: number[], now: number): { times: number[]; over: boolean } {
  if (!p) return { times: [], over: false };
  const recent = times.filter((t) => t > now - p.withinMs);
  if (recent.length >= p.max) return { times: recent, over: true };
  return { times: [...recent, now], over: false };
}
