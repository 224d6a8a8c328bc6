// The HAM's read-only HTTP listener (`ham start --http`): /metrics, /api/status,
// /api/events (server-sent events) and the live view. Bound by whichever
// process is the HAM. It never holds the HAM up: every request is bounded in
// time and bytes, and an event stream that falls behind is cut off (it
// resumes by Last-Event-ID, as a slow control-socket subscriber by since=).
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { HamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { HttpSetting } from '../model/http.js';
import type { ViewSource } from '../protocol/view-source.js';
import { EventCounts } from './event-counts.js';
import { logsAnswer } from './logs.js';
import { metricsPage } from './metrics.js';
import { eventStream } from './sse.js';
import { loadStatic, staticFile } from './static.js';

/** At most this many connections at once; more are refused by the kernel's backlog and then closed. */
export const MAX_CONNECTIONS = 64;
/** A request's headers must arrive within this, and a plain answer be taken within ANSWER_MS. */
export const HEADERS_MS = 5000;
export const ANSWER_MS = 15_000;
/**
 * A status assembled for one request serves the others for this long (a big home's status takes
 * the HAM many turns), or STATUS_FRESH_MS once an event came since (the view asks after events).
 */
export const STATUS_REUSE_MS = 1000;
export const STATUS_FRESH_MS = 200;
/** Event-loop delay is sampled until no scrape came for this long. */
const LOOP_IDLE_MS = 5 * 60_000;
/** Retry a bind that failed (the address still held by a HAM that is going away) this often. */
const REBIND_MS = 500;

export class HttpListener {
  private server: Server | undefined;
  private readonly counts: EventCounts;
  private loop: IntervalHistogram | undefined;
  private lastScrape = 0;
  private readonly expected: Buffer | null;
  /** `at`: when it was assembled (Infinity while it is); `changed`: an event came since. */
  private status: { at: number; changed: boolean; view: ReturnType<ViewSource['status']> } | undefined;
  private offEvents: (() => void) | undefined;

  constructor(
    private readonly home: string,
    private readonly setting: HttpSetting,
    private readonly source: ViewSource,
    private readonly log: Logger,
  ) {
    this.counts = new EventCounts(source);
    this.expected = setting.token === null ? null : digest(setting.token);
  }

  async start(): Promise<void> {
    await loadStatic();
    void this.counts.start();
    this.offEvents = this.source.onEvents(() => this.status && (this.status.changed = true));
    const server = createServer({ maxHeaderSize: 8192, requestTimeout: HEADERS_MS, headersTimeout: HEADERS_MS, keepAliveTimeout: 5000 }, (req, res) =>
      this.handle(req, res).catch((e: Error) => this.fail(res, e)),
    );
    server.maxConnections = MAX_CONNECTIONS;
    server.maxRequestsPerSocket = 1000;
    this.server = server;
    const bind = (): void => {
      server.once('error', (e: NodeJS.ErrnoException) => {
        this.log('warn', 'http: could not listen; trying again', { host: this.setting.host, port: this.setting.port, error: e.code ?? e.message });
        setTimeout(bind, REBIND_MS).unref();
      });
      server.listen(this.setting.port, this.setting.host, () => {
        server.removeAllListeners('error');
        server.on('error', (e) => this.log('warn', 'http: listener error', { error: e.message }));
        this.log('info', 'http: listening', { host: this.setting.host, port: this.setting.port, token: this.expected !== null });
      });
    };
    bind();
  }

  /**
   * The event-loop delay histogram, sampled (a wake-up each 20 ms) only while someone scrapes:
   * from the first /metrics until none came for LOOP_IDLE_MS. An idle HAM is not woken for it.
   */
  private sampleLoop(): IntervalHistogram | undefined {
    this.lastScrape = performance.now();
    if (this.loop) return this.loop;
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
    const check = (): void => {
      if (performance.now() - this.lastScrape < LOOP_IDLE_MS) return void setTimeout(check, LOOP_IDLE_MS).unref();
      this.loop?.disable();
      this.loop = undefined;
    };
    setTimeout(check, LOOP_IDLE_MS).unref();
    return undefined; // nothing sampled yet: this page has no delay figures
  }

  /** At most one status assembled per STATUS_REUSE_MS, however many clients ask (and one at a time). */
  private currentStatus(): ReturnType<ViewSource['status']> {
    const s = this.status;
    if (s && performance.now() - s.at < (s.changed ? STATUS_FRESH_MS : STATUS_REUSE_MS)) return s.view;
    const view = this.source.status();
    const mine = { at: Infinity, changed: false, view };
    this.status = mine;
    view.then(
      () => (mine.at = performance.now()),
      () => this.status === mine && (this.status = undefined),
    );
    return view;
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.expected === null) return true;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    // Digests of equal length compared in constant time: neither the token's bytes nor its length leak.
    return m !== null && timingSafeEqual(digest(m[1]!), this.expected);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://ham');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.error(res, 405, new HamError({ code: 'bad-request', message: `the HTTP listener is read-only: expected GET or HEAD, got ${req.method}` }));
    }
    // The view's files hold no data (it fetches everything through the API, with the token): served to anyone.
    const file = staticFile(url.pathname);
    if (file) {
      // Nothing but this origin: the view fetches nothing from elsewhere, and nothing injected could.
      res.setHeader('Content-Security-Policy', "default-src 'self'; frame-ancestors 'none'");
      return this.send(res, 200, file.type, file.body);
    }
    if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="ham"');
      return this.error(
        res,
        401,
        new HamError({ code: 'unauthorized', message: 'expected an Authorization: Bearer header with the token ham start --token was given' }),
      );
    }
    switch (url.pathname) {
      case '/metrics': {
        const [status, detectors] = [await this.currentStatus(), this.source.detectors()];
        const l = this.sampleLoop();
        const ms = (ns: number): number => Math.round(ns / 1e4) / 100;
        const loopDelayMs = l && l.count > 0 ? { p50: ms(l.percentile(50)), p99: ms(l.percentile(99)), max: ms(l.max) } : null;
        l?.reset();
        const body = metricsPage({ status, detectors, figures: this.source.figures(), events: this.counts.byEntity, loopDelayMs });
        return this.send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', body);
      }
      case '/api/status':
        return this.send(res, 200, 'application/json', JSON.stringify(await this.currentStatus()));
      case '/api/detectors':
        return this.send(res, 200, 'application/json', JSON.stringify(this.source.detectors()));
      case '/api/events':
        return eventStream(this.source, req, res, url, (status, e) => this.error(res, status, e));
      default:
        if (url.pathname.startsWith('/api/logs/')) {
          let name: string;
          try {
            name = decodeURIComponent(url.pathname.slice('/api/logs/'.length));
          } catch {
            return this.error(
              res,
              400,
              new HamError({ code: 'bad-request', message: `expected /api/logs/NAME with NAME URL-encoded, got ${url.pathname.slice(0, 200)}` }),
            );
          }
          return logsAnswer(
            this.home,
            name,
            url,
            req,
            res,
            (st, type, body) => this.send(res, st, type, body),
            (st, e) => this.error(res, st, e),
          );
        }
        return this.error(
          res,
          404,
          new HamError({ code: 'not-found', message: `no such path: ${url.pathname} (expected /, /metrics, /api/status, /api/events, /api/logs/NAME)` }),
        );
    }
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
    // A client that does not take its answer in time is dropped (its socket, not the HAM, waits).
    res.setTimeout(ANSWER_MS, () => res.destroy());
    res.writeHead(status, {
      'Content-Type': type,
      'Content-Length': Buffer.byteLength(body),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  private error(res: ServerResponse, status: number, e: HamError): void {
    this.send(res, status, 'application/json', JSON.stringify({ error: e.toShape() }));
  }

  private fail(res: ServerResponse, e: Error): void {
    this.log('warn', 'http: request failed', { error: e.message });
    if (res.headersSent) res.destroy();
    else this.error(res, 500, e instanceof HamError ? e : new HamError({ code: 'internal', message: e.message }));
  }

  close(): void {
    this.loop?.disable();
    this.counts.stop();
    this.offEvents?.();
    this.server?.close();
    this.server?.closeAllConnections();
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
