// GET /api/events: the event log as server-sent events, `id:` the event's seq.
// From `?since=SEQ` (or live only), or from the `Last-Event-ID` a reconnecting
// EventSource sends: across a takeover the new HAM goes on from there, with
// nothing lost and nothing twice (follow.ts). A reader that falls behind by
// SSE_BACKLOG_BYTES is cut off with an error event and may resume.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HamError } from '../errors.js';
import type { ViewSource } from '../protocol/view-source.js';
import { follow } from './follow.js';

/** Unsent bytes a reader may fall behind by before it is cut off. */
export const SSE_BACKLOG_BYTES = 1024 * 1024;
/** A backlog is sent while the socket holds less than this. */
const SSE_ROOM_BYTES = 256 * 1024;
/** A comment line this often: dead readers are found, proxies keep the stream open. */
const SSE_PING_MS = 15_000;
/** What an EventSource waits before reconnecting (a takeover is well under a second). */
const SSE_RETRY_MS = 250;

export async function eventStream(
  source: ViewSource,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  error: (status: number, e: HamError) => void,
): Promise<void> {
  const header = req.headers['last-event-id'];
  const raw = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('since') ?? undefined;
  if (raw !== undefined && raw !== '' && !/^\d{1,15}$/.test(raw))
    return error(
      400,
      new HamError({ code: 'bad-request', message: `since / Last-Event-ID: expected a sequence number (0 or more), got ${JSON.stringify(raw.slice(0, 40))}` }),
    );
  const since = raw === undefined || raw === '' ? source.events(Number.MAX_SAFE_INTEGER, 1).lastSeq : Number(raw);
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
  res.write(`retry: ${SSE_RETRY_MS}\n: from ${since}\n\n`);
  const gone = (): boolean => res.destroyed || res.writableEnded;
  const ping = setInterval(() => gone() || res.write(': ping\n\n'), SSE_PING_MS);
  ping.unref();
  let stop: (() => void) | undefined;
  res.once('close', () => {
    clearInterval(ping);
    stop?.();
  });
  stop = await follow(source, since, {
    deliver: (events) => {
      if (gone()) return false;
      if (res.writableLength > SSE_BACKLOG_BYTES) {
        const e = new HamError({
          code: 'too-slow',
          message: `event stream fell ${res.writableLength} bytes behind (at most ${SSE_BACKLOG_BYTES}); resume with Last-Event-ID or since=${events[0]!.seq - 1}`,
        });
        res.end(`event: error\ndata: ${JSON.stringify({ error: e.toShape() })}\n\n`);
        setTimeout(() => res.destroy(), 1000).unref(); // it does not read: do not wait for it
        return false;
      }
      res.write(events.map((e) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`).join(''));
      return true;
    },
    room: () =>
      res.writableLength < SSE_ROOM_BYTES
        ? new Promise((r) => setImmediate(r))
        : new Promise((r) => {
            res.once('drain', r);
            res.once('close', r);
          }),
    gone,
  });
  if (gone()) stop?.();
}
