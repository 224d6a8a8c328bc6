// A placed entity's stop timeout as its record carries it (HAM_FENCE_STOP="SIGNAL TIMEOUT_MS",
// written by the apply that placed it): what a HAM that took over knows before its first
// reconcile has read the definitions from etcd. Without it the HAM's own halt assumed the
// 5 s default and, with a short TTL, stopped the entity a takeover was meant to leave alone.
import type { EntityRecord } from '../model/records.js';

export function storedStopMs(rec: EntityRecord | undefined): number | undefined {
  const m = /^\d+ (\d+)$/.exec(rec?.env.HAM_FENCE_STOP ?? '');
  return m ? Number(m[1]) : undefined;
}
