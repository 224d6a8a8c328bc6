// Large answers in pages: each request does bounded work (decodes at most
// so many records) and its reply stays well under a frame (MAX_FRAME). The
// client assembles the pages (client/pages.ts), so `ham status --json` is
// still one object with every entity. A subscription's backlog goes out in
// chunks across turns, waiting for the socket to drain.
import { keeperCommand } from '../paths.js';
import { openFilesView } from './fd-limit.js';
import type { Socket } from 'node:net';
import { encodedSize, MAX_FRAME } from '../protocol/frame.js';
import type { EventRecord } from '../model/conditions.js';
import type { Store } from '../store/store.js';
import { GLOBAL, type Roles } from '../model/records.js';
import { storeUse } from '../store/limits.js';
import type { EntityView, EventsPage, EventView, PairView, StatusPage, StatusView } from '../protocol/views.js';
import { eventMatches, eventView, type EventFilter, type EventHub } from './events.js';
import { conditionView, entityView, type LiveBeat } from './status.js';

/** Entities decoded for one status page (~25 ms of the loop at most; 10,000 entities in 20 pages)... */
export const STATUS_PAGE_ENTITIES = 512;
/** ...and the bytes a page's entities may take (a quarter of a frame). */
export const PAGE_BYTES = MAX_FRAME / 4;
/** Events read for one `events` request (matching or not). */
export const EVENTS_SCAN = 2000;
/** A subscription's backlog: this many events a turn, and the socket may hold this much before we wait. */
export const BACKLOG_CHUNK = 256;
export const BACKLOG_BYTES = 1024 * 1024;

export function pairView(roles: Roles): PairView {
  return {
    ham: { pid: roles.ham?.pid ?? null, epoch: roles.epoch, failures: roles.hamFailures, keeper: keeperCommand().kind },
    guardian: { pid: roles.guardian?.pid ?? null, failures: roles.guardianFailures },
  };
}

/** One page of `ham status`: entities after `after`, as many as fit (at least one). */
export function statusPage(store: Store, a: { name?: string; after?: string; limit?: number }, live: (name: string) => LiveBeat): StatusPage {
  const openFiles = openFilesView(store.entityCount() - (store.hasEntity(GLOBAL) ? 1 : 0));
  const head = {
    ...pairView(store.roles()),
    lastSeq: store.lastSeq(),
    store: storeUse(store.usedBytes(), store.settings()),
    ...(openFiles ? { openFiles } : {}),
  };
  const globalView = (): StatusView['global'] => {
    const g = store.entity(GLOBAL);
    return g ? { enabled: g.enabled, conditions: g.conditions.map(conditionView) } : null;
  };
  if (a.name !== undefined) {
    const e = a.name === GLOBAL ? undefined : store.entity(a.name);
    return { ...head, entities: e ? [entityView(e, live(e.name))] : [], global: a.name === GLOBAL ? globalView() : null, next: null };
  }
  const limit = Math.min(a.limit ?? STATUS_PAGE_ENTITIES, STATUS_PAGE_ENTITIES);
  const records = store.entitiesAfter(a.after, limit);
  const views = records.map((r) => entityView(r, live(r.name)));
  // Measured whole first (one encoding; at 10,000 entities the per-view sizes were a third
  // of the cost of a status); view by view only when the page is too big as it is.
  let entities: EntityView[] = views;
  if (encodedSize(views) > PAGE_BYTES) {
    entities = [];
    let bytes = 0;
    for (const v of views) {
      bytes += encodedSize(v);
      if (entities.length > 0 && bytes > PAGE_BYTES) break;
      entities.push(v);
    }
  }
  const last = entities.at(-1)?.name;
  const more = entities.length < records.length || (records.length === limit && last !== undefined && store.entitiesAfter(last, 1).length > 0);
  return { ...head, entities, global: a.after === undefined ? globalView() : null, next: more ? last! : null };
}

/** Up to `limit` events after `since` matching the filter, reading at most EVENTS_SCAN. */
export function eventsPage(store: Store, a: { since: number; limit: number } & EventFilter): EventsPage {
  const filter = { entity: a.entity, condition: a.condition };
  const read = store.eventsSince(a.since, EVENTS_SCAN);
  const events: EventView[] = [];
  let bytes = 0;
  let cursor = a.since;
  let full = false;
  for (const e of read) {
    if (eventMatches(filter, e)) {
      const v = eventView(e);
      bytes += encodedSize(v);
      if (events.length > 0 && bytes > PAGE_BYTES) {
        full = true;
        break;
      }
      events.push(v);
    }
    cursor = e.seq;
    if (events.length >= a.limit) break;
  }
  const lastSeq = store.lastSeq();
  const more = events.length < a.limit && (full || (read.length === EVENTS_SCAN && cursor < lastSeq));
  return { events, lastSeq, next: more ? cursor : null };
}

const drained = (conn: Socket): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      conn.off('drain', done);
      conn.off('close', done);
      resolve();
    };
    conn.once('drain', done);
    conn.once('close', done);
  });

/**
 * Send a new subscriber the events after `from`, a chunk a turn, then make
 * it live: the last read and `hub.add` happen in one turn, so no event can
 * slip in between. False if the connection went away meanwhile.
 */
export async function catchUp(store: Store, hub: EventHub, sub: { conn: Socket; id: number; filter: EventFilter }, from: number): Promise<boolean> {
  let cursor = from;
  for (;;) {
    if (sub.conn.destroyed || sub.conn.writableEnded) return false;
    const chunk: EventRecord[] = store.eventsSince(cursor, BACKLOG_CHUNK);
    for (const e of chunk) {
      if (!hub.send(sub, e)) return false;
      cursor = e.seq;
    }
    if (chunk.length < BACKLOG_CHUNK || cursor >= store.lastSeq()) {
      hub.add(sub.conn, sub.id, sub.filter);
      return true;
    }
    if (sub.conn.writableLength > BACKLOG_BYTES) await drained(sub.conn);
    else await new Promise((r) => setImmediate(r));
  }
}
