// HTTP from tests: plain requests and a server-sent-events reader that
// reconnects as a browser's EventSource does (Last-Event-ID), with node's http.
import { request as httpRequest, type ClientRequest } from 'node:http';
import { createServer } from 'node:net';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A port nothing listens on now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Wait until the HAM's listener answers (it binds just after the HAM serves, as `ham start` returns). */
export async function listening(port: number, path = '/metrics', headers: Record<string, string> = {}): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await get(port, path, headers);
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, timeout: 20_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 20 s`)));
    req.on('error', reject);
    req.end();
  });
}

export interface SseEvent {
  id: number;
  data: { seq: number; entity: string; condition: string; [k: string]: unknown };
}

/** Reads /api/events until closed, reconnecting (with Last-Event-ID) whenever the stream ends or cannot connect. */
export class SseReader {
  readonly events: SseEvent[] = [];
  /** The Last-Event-ID each connection after the first was opened with. */
  readonly resumedFrom: number[] = [];
  connections = 0;
  private req: ClientRequest | undefined;
  private closed = false;
  private lastId: number | undefined;

  constructor(
    private readonly port: number,
    private readonly path: string,
    private readonly headers: Record<string, string> = {},
  ) {
    this.open();
  }

  private open(): void {
    if (this.closed) return;
    const headers = { ...this.headers, Accept: 'text/event-stream', ...(this.lastId !== undefined ? { 'Last-Event-ID': String(this.lastId) } : {}) };
    const again = (): void => {
      this.req = undefined;
      if (!this.closed) setTimeout(() => this.open(), 100);
    };
    const req = httpRequest({ host: '127.0.0.1', port: this.port, path: this.path, headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        res.on('end', again);
        return;
      }
      this.connections++;
      if (this.connections > 1) this.resumedFrom.push(this.lastId ?? -1);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let id: number | undefined;
          let data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = Number(line.slice(4));
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (id !== undefined && data) {
            this.lastId = id;
            this.events.push({ id, data: JSON.parse(data) as SseEvent['data'] });
          }
        }
      });
      res.on('close', again);
    });
    req.on('error', again);
    req.end();
    this.req = req;
  }

  close(): void {
    this.closed = true;
    this.req?.destroy();
  }
}
