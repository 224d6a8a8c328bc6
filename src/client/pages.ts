// Large answers come in pages (ham/pages.ts); these assemble them, so a
// caller still gets one status with every entity and every event asked for.
import type { RequestArgs } from '../protocol/requests.js';
import type { EventView, StatusPage, StatusView } from '../protocol/views.js';
import type { Connection } from './connection.js';

type Requester = Pick<Connection, 'request'>;

/** The whole status (or one entity's), page after page. */
export async function statusAll(c: Requester, name?: string, timeoutMs = 10_000): Promise<StatusView & Pick<StatusPage, 'store' | 'openFiles'>> {
  const first = await c.request('status', name === undefined ? {} : { name }, timeoutMs);
  const entities = [...first.entities];
  for (let next = first.next; next !== null && next !== undefined;) {
    const page = await c.request('status', { after: next }, timeoutMs);
    entities.push(...page.entities);
    next = page.next;
  }
  const { next: _next, ...view } = first;
  return { ...view, entities };
}

/** Events after `since` (at most `limit`), page after page; `onPage` sees each page as it comes. */
export async function eventsAll(
  c: Requester,
  args: Partial<RequestArgs<'events'>>,
  onPage: (events: EventView[]) => void,
  timeoutMs = 10_000,
): Promise<{ count: number; lastSeq: number }> {
  let since = args.since ?? 0;
  let left = args.limit ?? 1000;
  let count = 0;
  let lastSeq = 0;
  for (;;) {
    const page = await c.request('events', { ...args, since, limit: left }, timeoutMs);
    onPage(page.events);
    count += page.events.length;
    left -= page.events.length;
    lastSeq = page.lastSeq;
    if (page.next === null || page.next === undefined || left <= 0) return { count, lastSeq };
    since = page.next;
  }
}
