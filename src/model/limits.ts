// Bounds on the settings, checked by the CLI (`ham start` flags) and by the
// daemon (what it writes into the store); and the store's use against them.
import type { Settings } from './records.js';

/** Bounds accepted for the settings (a store smaller than this could not hold its own event log). */
export const STORE_MAX_MIN = 16 * 1024 * 1024;
export const SAVED_MAX_MAX = 512 * 1024;

export interface StoreUse {
  usedBytes: number;
  limitBytes: number;
  /** Where user-driven growth is refused. */
  userLimitBytes: number;
}

/** Settings from `ham start` flags, checked against the bounds above. */
export function checkLimitSettings(s: Pick<Settings, 'storeMaxBytes' | 'savedMaxBytes'>): string | undefined {
  if (!Number.isInteger(s.storeMaxBytes) || s.storeMaxBytes < STORE_MAX_MIN)
    return `store-max-bytes: expected an integer of at least ${STORE_MAX_MIN}, got ${s.storeMaxBytes}`;
  if (!Number.isInteger(s.savedMaxBytes) || s.savedMaxBytes < 1 || s.savedMaxBytes > SAVED_MAX_MAX)
    return `saved-max-bytes: expected an integer from 1 to ${SAVED_MAX_MAX}, got ${s.savedMaxBytes}`;
  return undefined;
}
