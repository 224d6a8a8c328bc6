// What etcd keeps of a placed entity (PREFIX/defs/NAME): its apply-file body without its
// placement, the placement, and where its relative paths start; and the stop policy in it.
import type { Placement } from '../model/cluster.js';

export interface PlacedDef {
  config: Record<string, unknown>;
  placement: Placement;
  baseDir: string;
}

/** Kept between the keeper's deadline and the lease's expiry; the HAM stops an entity this much earlier still. */
export const FENCE_SAFETY_MS = 500;

export function stopOf(def: PlacedDef): { signal: string; timeoutMs: number } {
  const s = (def.config.stop ?? {}) as { signal?: string; timeoutMs?: number };
  return { signal: s.signal ?? 'SIGTERM', timeoutMs: s.timeoutMs ?? 5000 };
}
