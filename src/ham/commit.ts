// Helpers for the commit of an apply (Supervisor.commitPlan). An apply stays
// one transaction (all or nothing, also across a SIGKILL), but that
// transaction must be short: at 10,000 placeholders, encoding the records
// inside it held the event loop for hundreds of ms (the status of another
// client waited, the Guardian's beat was late). New placeholders are
// therefore encoded before it, a slice at a time; the transaction only
// checks they are still new and writes the bytes.
import type { Store } from '../store/store.js';
import type { EntityRecord } from '../model/records.js';
import type { Pacer } from './pace.js';

export interface Prepared {
  /** The id the first prepared record was given (ids follow in order). */
  firstId: number;
  byName: Map<string, { rec: EntityRecord; encoded: Buffer }>;
}

/** Encode the records of entities absent now, with ids from the store's next one, yielding between slices. */
export async function prepareNew<N extends { name: string }>(
  store: Store,
  items: N[],
  make: (n: N, id: number) => EntityRecord,
  pace: Pacer,
): Promise<Prepared> {
  const firstId = store.peekNextId();
  const byName = new Map<string, { rec: EntityRecord; encoded: Buffer }>();
  for (const n of items) {
    await pace.tick();
    if (store.hasEntity(n.name) || byName.has(n.name)) continue;
    const rec = make(n, firstId + byName.size);
    byName.set(n.name, { rec, encoded: store.encodeEntity(rec) });
  }
  return { firstId, byName };
}

/** Run `fn` for each item, yielding between slices (work after a commit, per entity). */
export async function paced<T>(items: T[], fn: (x: T) => void, pace: Pacer): Promise<void> {
  for (const x of items) {
    await pace.tick();
    fn(x);
  }
}
