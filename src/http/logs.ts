// GET /api/logs/NAME[?lines=N][&follow]: an entity's output as `ham logs`
// prints it (plain text, a line each), read from the home's log files as the
// CLI reads them; with `follow`, new lines as they are written, across
// restarts and takeovers (the files do not change hands). A follower that
// falls LOG_BACKLOG_BYTES behind is cut off.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HamError } from '../errors.js';
import { followLogs, readLogs } from '../logs/follow.js';
import { formatLogLine } from '../logs/line.js';

export const MAX_LOG_LINES = 1000;
export const LOG_BACKLOG_BYTES = 1024 * 1024;

export async function logsAnswer(
  home: string,
  name: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  send: (status: number, type: string, body: string) => void,
  error: (status: number, e: HamError) => void,
): Promise<void> {
  const raw = url.searchParams.get('lines');
  const n = raw === null ? 50 : Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_LOG_LINES)
    return error(400, new HamError({ code: 'bad-request', message: `lines: expected 0 to ${MAX_LOG_LINES}, got ${JSON.stringify(raw)}` }));
  const type = 'text/plain; charset=utf-8';
  try {
    if (!url.searchParams.has('follow'))
      return send(
        200,
        type,
        readLogs(home, { name, n })
          .map((l) => `${formatLogLine(l, false)}\n`)
          .join(''),
      );
    const stop = new AbortController();
    const lines = followLogs(home, { name, n, signal: stop.signal });
    const first = await lines.next(); // an unknown entity throws here, before any header
    res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.once('close', () => stop.abort());
    req.socket.setTimeout(0);
    for (let it = first; !it.done; it = await lines.next()) {
      if (res.destroyed || res.writableEnded) break;
      if (res.writableLength > LOG_BACKLOG_BYTES) {
        res.end(`ham: cut off, ${res.writableLength} bytes behind (at most ${LOG_BACKLOG_BYTES}); ask again with a smaller lines=\n`);
        setTimeout(() => res.destroy(), 1000).unref();
        break;
      }
      res.write(`${formatLogLine(it.value, false)}\n`);
    }
    stop.abort();
    if (!res.writableEnded) res.end();
  } catch (e) {
    if (res.headersSent) return void res.destroy();
    const err = HamError.from(e);
    error(err.code === 'unknown-entity' ? 404 : 500, err);
  }
}
