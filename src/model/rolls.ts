// A rolling restart under way (`ham restart --group G`), kept in the store so
// that a HAM taking over carries it on (ham/rolls.ts).

export interface RollRecord {
  group: string;
  /** The members to restart, in order (those running when it was asked). */
  todo: string[];
  /** Index in `todo` of the member being restarted now (todo.length: all done). */
  next: number;
  /** That member's instance when its restart was asked; null: not asked yet. */
  before: number | null;
  /** Epoch ms it was asked. */
  startedAt: number;
}

/** Rolls under way at once (one per group): a bound on what the store keeps. */
export const MAX_ROLLS = 64;
