// `status` of a home with many entities, read and encoded in slices: with
// 10,000 entities, reading, viewing and encoding them all at once is a
// quarter second of CPU in one turn, which on a loaded machine is a second
// of silence to the Guardian. Pages of entities are read, viewed and packed
// a slice at a time, and the reply is assembled from the packed pieces.
// The same fields and order as readStatus; a commit between slices can show
// (as any later status would) entities as of slightly different moments.
import { arrayHeader, packValue, RawResult } from '../protocol/frame.js';
import type { Store } from '../store/store.js';
import { GLOBAL } from '../store/types.js';
import { Pacer } from './pace.js';
import { conditionView, entityView, readStatus, type LiveBeat, type StatusView } from './status.js';

/** Below this many entities, one turn is cheap: the plain, atomic read. */
export const PACED_ABOVE = 500;
const PAGE = 100;

export async function pacedStatus(store: Store, live: (name: string) => LiveBeat): Promise<StatusView | RawResult> {
  if (store.entityCount() <= PACED_ABOVE) return readStatus(store, undefined, live);
  const pace = new Pacer();
  const parts: Buffer[] = [];
  let count = 0;
  let after: string | undefined;
  for (;;) {
    const page = store.entitiesAfter(after, PAGE);
    if (page.length === 0) break;
    for (const e of page) {
      if (e.name === GLOBAL) continue;
      parts.push(packValue(entityView(e, live(e.name))));
      count++;
    }
    after = page[page.length - 1]!.name;
    await pace.tick();
  }
  const roles = store.roles();
  const global = store.entity(GLOBAL);
  const head: Omit<StatusView, 'entities' | 'global' | 'lastSeq'> = {
    ham: { pid: roles.ham?.pid ?? null, epoch: roles.epoch, failures: roles.hamFailures },
    guardian: { pid: roles.guardian?.pid ?? null, failures: roles.guardianFailures },
  };
  const out = [
    Buffer.from([0x85]), // a map of five: ham, guardian, entities, global, lastSeq
    packValue('ham'), packValue(head.ham),
    packValue('guardian'), packValue(head.guardian),
    packValue('entities'), arrayHeader(count), ...parts,
    packValue('global'), packValue(global ? { enabled: global.enabled, conditions: global.conditions.map(conditionView) } : null),
    packValue('lastSeq'), packValue(store.lastSeq()),
  ];
  return new RawResult(Buffer.concat(out));
}
