// The store's bounds as the request handlers apply them (see store/limits.ts),
// and saved states (`store` / `restore`), which they bound.
import { HamError } from '../errors.js';
import { encodedSize } from '../protocol/frame.js';
import { checkSaved, refuseGrowth, storeUse } from '../store/limits.js';
import type { Store } from '../store/store.js';

export interface Guard {
  /** Refuse a user-driven write (`what`) of about `incoming` bytes when the store is at its user share. */
  grow(what: string, incoming?: unknown): void;
  /** A value to save for `name`: within savedMaxBytes, and room for what it adds over `previous`. */
  saved(name: string, value: unknown, previous: unknown): void;
}

export function storeGuard(store: Store): Guard {
  return {
    grow(what, incoming) {
      refuseGrowth(storeUse(store.usedBytes(), store.settings()), what, incoming === undefined ? 0 : encodedSize(incoming));
    },
    saved(name, value, previous) {
      const s = store.settings();
      const size = checkSaved(name, value, s);
      const more = size - (previous === null || previous === undefined ? 0 : encodedSize(previous));
      if (more > 0) refuseGrowth(storeUse(store.usedBytes(), s), `store ${JSON.stringify(name)}`, more);
    },
  };
}

/** Save `value` for entity `name` (in one fenced write), within the bounds; the previous value is kept on refusal. */
export function saveState(store: Store, guard: Guard, write: (fn: () => void) => void, name: string, value: unknown): void {
  const unknown = (): HamError => new HamError({ code: 'unknown-entity', entity: name, message: `no entity named ${JSON.stringify(name)}` });
  if (!store.entity(name)) throw unknown();
  guard.saved(name, value, store.savedValue(name));
  write(() => {
    if (!store.entity(name)) throw unknown();
    store.putSaved(name, value ?? null);
  });
}
