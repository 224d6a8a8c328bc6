// Live event subscribers. The log itself is in the store (Store.appendEvent);
// this pushes each committed event to the connections that asked for it. A
// subscriber that cannot keep up is cut off with an error after a bounded
// backlog and can resume from its last sequence number.
import type { Socket } from 'node:net';
import { HamError } from '../errors.js';
import { encodeFrame } from '../protocol/frame.js';
import type { EventRecord } from '../model/conditions.js';
import type { EventView } from '../protocol/views.js';

export function eventView(e: EventRecord): EventView {
  const { seq, time, entity, type, key: _key, ...rest } = e;
  return { seq, time: new Date(time).toISOString(), entity, condition: type, ...rest };
}

export interface EventFilter {
  entity?: string;
  condition?: string;
}

interface Subscriber {
  conn: Socket;
  id: number;
  filter: EventFilter;
}

/** Unwritten bytes a subscriber may fall behind by before it is cut off. */
export const SUBSCRIBER_BACKLOG_BYTES = 8 * 1024 * 1024;

export function eventMatches(f: EventFilter, e: EventRecord): boolean {
  if (f.entity !== undefined && f.entity !== e.entity) return false;
  if (f.condition !== undefined && f.condition !== e.type && !(f.condition === 'death' && e.type === 'abnormal-death')) return false;
  return true;
}

export class EventHub {
  private readonly subs = new Set<Subscriber>();
  /** In-process listeners (the HTTP listener's event streams and counters): they bound their own buffers. */
  private readonly listeners = new Set<(events: EventRecord[]) => void>();

  /** Call `fn` with each batch of committed events; returns the way to stop. */
  listen(fn: (events: EventRecord[]) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  add(conn: Socket, id: number, filter: EventFilter): void {
    const sub = { conn, id, filter };
    this.subs.add(sub);
    conn.once('close', () => this.subs.delete(sub));
  }

  /** Send (in order) to one subscriber; false if it was cut off. */
  send(sub: { conn: Socket; id: number; filter: EventFilter }, e: EventRecord): boolean {
    if (sub.conn.destroyed || sub.conn.writableEnded) return false; // ended (cut off): nothing more may be written
    if (!eventMatches(sub.filter, e)) return true;
    if (sub.conn.writableLength > SUBSCRIBER_BACKLOG_BYTES) {
      const err = new HamError({
        code: 'timeout',
        message: `subscriber fell ${sub.conn.writableLength} bytes behind (at most ${SUBSCRIBER_BACKLOG_BYTES}); resume with since=${e.seq - 1}`,
      });
      sub.conn.write(encodeFrame({ id: sub.id, ok: false, error: err.toShape() })); // only this subscription ends
      return false;
    }
    sub.conn.write(encodeFrame({ id: sub.id, event: eventView(e) }));
    return true;
  }

  publish(events: EventRecord[]): void {
    for (const fn of this.listeners) fn(events);
    if (this.subs.size === 0) return;
    for (const sub of this.subs) {
      for (const e of events) {
        if (!this.send(sub, e)) {
          this.subs.delete(sub);
          break;
        }
      }
    }
  }
}
