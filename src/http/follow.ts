// Following the event log from a sequence number: the backlog in bounded
// pages across turns, then live. The last page is read and the live listener
// added in one turn, and anything at or before the last delivered seq is
// dropped: no event is lost or delivered twice, as the control socket's
// subscriptions (ham/pages.ts catchUp).
import type { ViewSource } from '../protocol/view-source.js';
import type { EventView } from '../protocol/views.js';

/** Events read per page of a backlog (as many as one `events` request reads: ham/pages.ts EVENTS_SCAN). */
export const FOLLOW_PAGE = 2000;

export interface Follower {
  /** Take a batch (in order); false: stop following. */
  deliver(events: EventView[]): boolean;
  /** Resolves when the reader has room for more backlog (it drained). */
  room(): Promise<void>;
  /** Whether the reader went away. */
  gone(): boolean;
}

/** Resolves with the way to stop, once live; undefined if the follower stopped or went away first. */
export async function follow(source: ViewSource, since: number, f: Follower): Promise<(() => void) | undefined> {
  let cursor = since;
  for (;;) {
    if (f.gone()) return undefined;
    const page = source.events(cursor, FOLLOW_PAGE);
    if (page.events.length > 0) {
      cursor = page.events.at(-1)!.seq;
      if (!f.deliver(page.events)) return undefined;
    }
    if (page.events.length === 0 || cursor >= page.lastSeq) {
      let stopped = false;
      const stop = source.onEvents((events) => {
        if (stopped) return;
        const fresh = events.filter((e) => e.seq > cursor);
        if (fresh.length === 0) return;
        cursor = fresh.at(-1)!.seq;
        if (!f.deliver(fresh)) off();
      });
      const off = (): void => {
        stopped = true;
        stop();
      };
      return off;
    }
    await f.room();
  }
}
