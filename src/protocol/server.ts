// The control socket: request/response over length-prefixed msgpackr frames.
// A connection that sends bytes we cannot frame is answered once and closed;
// a well-framed but bad request gets an error reply and the connection stays.
// Either way every other client is unaffected: nothing a peer sends can throw
// out of here. Frames are served by the Scheduler (fair, bounded per turn,
// with backpressure); who may connect is decided by `admit` (peer credentials).
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { HamError } from '../model/errors.js';
import { decodeBody, encodeFrame, encodeReplyFrame, FrameDecoder, FrameError } from './frame.js';
import { validationError } from './issues.js';
import { envelope, isOp, parseArgs, type Op, type RequestArgs } from './requests.js';
import type { Reply } from './responses.js';
import type { StatsView } from './views.js';
import { DEFAULT_LIMITS, Scheduler, type ServeLimits } from './scheduler.js';

/** How long a cut-off connection may still read what it was sent (the error last). */
const CUT_GRACE_MS = 5000;
/** Connections beyond this are refused (each costs buffers). */
export const MAX_CONNECTIONS = 4096;

export type Handlers = { [O in Op]: (args: RequestArgs<O>, conn: Socket, id: number) => Reply<O> | Promise<Reply<O>> };

export interface Response {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: ReturnType<HamError['toShape']>;
}

/**
 * Heartbeats are notifications (id 0, no reply) and come by the hundred
 * thousand: they skip the schema and go straight to this function.
 */
export type BeatHandler = (conn: Socket, name: string) => void;

/** Decide whether a new connection is served: an error refuses it (sent, then closed). */
export type Admit = (conn: Socket) => HamError | undefined;

export interface ServerOptions {
  onBeat?: BeatHandler;
  admit?: Admit;
  limits?: ServeLimits;
  /** Told about everything that went wrong in here (logged by the HAM, never thrown). */
  onTrouble?: (what: string, e: unknown) => void;
}

export class ControlServer {
  private readonly server: Server;
  private readonly conns = new Set<Socket>();
  readonly scheduler: Scheduler;
  /** Figures for stats, benches and tests. */
  readonly counts = { refused: 0, cutOff: 0, badFrames: 0 };

  constructor(
    private readonly handlers: Handlers,
    private readonly o: ServerOptions = {},
  ) {
    this.server = createServer((c) => this.guard('accept', () => this.accept(c), c));
    // Each connection costs buffers: past this many the kernel's backlog holds the rest.
    this.server.maxConnections = MAX_CONNECTIONS;
    this.scheduler = new Scheduler(
      (c, b) => this.serve(c, b),
      (c, why, bytes) => this.cutOff(c, why, bytes),
      o.limits ?? DEFAULT_LIMITS,
    );
    this.server.on('error', (e) => o.onTrouble?.('control socket', e));
  }

  /** Bind the socket (replacing a stale one: the caller holds the HAM role). */
  listen(path: string): Promise<void> {
    try {
      unlinkSync(path);
    } catch {
      /* none left behind */
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => {
        chmodSync(path, 0o600);
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): void {
    this.server.close();
    for (const c of this.conns) c.destroy();
  }

  /** Figures for `stats`. */
  figures(): StatsView['control'] {
    const s = this.scheduler;
    return {
      connections: this.conns.size,
      ...this.counts,
      yields: s.yields,
      inFlight: s.inFlightAll,
      queuedBytes: s.bytesAll,
      peakInFlight: s.peakInFlight,
      peakQueuedBytes: s.peakBytes,
    };
  }

  /** Run `fn`; anything it throws costs `conn` (closed), never the process. */
  private guard(what: string, fn: () => void, conn: Socket): void {
    try {
      fn();
    } catch (e) {
      this.o.onTrouble?.(what, e);
      conn.destroy();
    }
  }

  private accept(conn: Socket): void {
    conn.on('error', () => conn.destroy());
    const refusal = this.o.admit?.(conn);
    if (refusal) {
      this.counts.refused++;
      conn.end(encodeFrame({ id: 0, ok: false, error: refusal.toShape() } satisfies Response));
      setTimeout(() => conn.destroy(), 1000).unref();
      return;
    }
    this.conns.add(conn);
    this.scheduler.add(conn);
    const decoder = new FrameDecoder();
    conn.on('close', () => this.conns.delete(conn));
    conn.on('data', (chunk: Buffer) =>
      this.guard(
        'read',
        () => {
          let bodies: Buffer[];
          try {
            bodies = decoder.pushRaw(chunk);
          } catch (e) {
            return this.badFrame(conn, e);
          }
          this.scheduler.enqueue(conn, bodies);
        },
        conn,
      ),
    );
  }

  /** Bytes that are not frames: one error, then close (the stream cannot be resynchronised). */
  private badFrame(conn: Socket, e: unknown): void {
    this.counts.badFrames++;
    const code = e instanceof FrameError && e.kind === 'too-large' ? 'frame-too-large' : 'bad-frame';
    const err = new HamError({ code, message: (e as Error).message });
    conn.end(encodeFrame({ id: 0, ok: false, error: err.toShape() } satisfies Response));
    conn.destroy();
  }

  private cutOff(conn: Socket, why: 'output-hard' | 'output-stalled', bytes: number): void {
    if (conn.writableEnded || conn.destroyed) return; // once: its error is already on its way
    this.counts.cutOff++;
    const { outputSoft, outputHard, stallMs } = this.scheduler.limits;
    const message =
      why === 'output-hard'
        ? `cut off: ${bytes} bytes of replies unread (at most ${outputHard}); read replies as they come`
        : `cut off: ${bytes} bytes of replies unread (over ${outputSoft}) and nothing read for ${stallMs} ms; read replies as they come`;
    conn.end(encodeFrame({ id: 0, ok: false, error: new HamError({ code: 'too-slow', message }).toShape() } satisfies Response));
    // Unread output is held until the socket is destroyed: a few seconds for the peer to read it, no more.
    setTimeout(() => conn.destroy(), CUT_GRACE_MS).unref();
  }

  /** One frame body: decode, then a beat or a request. Never throws. */
  private serve(conn: Socket, body: Buffer): void | Promise<void> {
    if (conn.destroyed) return;
    let frame: unknown;
    try {
      frame = decodeBody(body);
    } catch (e) {
      if (e instanceof FrameError && e.kind === 'forbidden-key') {
        // Answered under the request's id (a notification, id 0, gets no answer); an unknown id: 0, about the connection.
        if (e.id === 0) return;
        return this.reply(conn, { id: e.id ?? 0, ok: false, error: new HamError({ code: 'bad-request', message: e.message }).toShape() });
      }
      return this.badFrame(conn, e);
    }
    try {
      if (this.o.onBeat && typeof frame === 'object' && frame !== null) {
        const b = frame as { id?: unknown; op?: unknown; args?: { name?: unknown } | null };
        if (b.op === 'beat' && b.id === 0 && typeof b.args === 'object' && b.args !== null && typeof b.args.name === 'string')
          return this.o.onBeat(conn, b.args.name);
      }
      return this.dispatch(conn, frame);
    } catch (e) {
      this.o.onTrouble?.('serve', e);
      conn.destroy();
    }
  }

  /** Validate and run a request; synchronous handlers reply in the same turn. */
  private dispatch(conn: Socket, frame: unknown): void | Promise<void> {
    const id = typeof frame === 'object' && frame !== null && typeof (frame as { id?: unknown }).id === 'number' ? (frame as { id: number }).id : 0;
    let notification = false;
    const fail = (e: unknown): void => {
      if (!notification) this.reply(conn, { id, ok: false, error: HamError.from(e).toShape() });
    };
    try {
      const env = envelope.safeParse(frame);
      if (!env.success) throw validationError('request', frame, env.error);
      notification = env.data.id === 0; // a well-formed request with id 0 wants no answer
      const { op, args } = env.data;
      if (!isOp(op))
        throw new HamError({
          code: 'unknown-command',
          message: `unknown command ${JSON.stringify(op)}, expected one of ${Object.keys(this.handlers).join(', ')}`,
        });
      const handler = this.handlers[op] as (a: unknown, c: Socket, id: number) => unknown;
      const result = handler(parseArgs(op, args), conn, id);
      const ok = (r: unknown): void => {
        if (!notification) this.reply(conn, { id, ok: true, result: r ?? null });
      };
      if (result instanceof Promise) return result.then(ok, fail).catch((e) => this.o.onTrouble?.('reply', e));
      ok(result);
    } catch (e) {
      fail(e);
    }
  }

  private reply(conn: Socket, reply: Response): void {
    // Ended (cut off, or a bad frame): a reply still in flight is dropped; writing after the end would destroy the socket and the error it is to read last.
    if (conn.destroyed || conn.writableEnded) return;
    let out: Buffer;
    try {
      out = encodeReplyFrame(reply);
    } catch (e) {
      // A reply too large (or impossible) to encode becomes a short error, never a crash.
      const err = new HamError({ code: 'internal', message: `the reply to request ${reply.id} could not be sent: ${(e as Error).message}` });
      out = encodeFrame({ id: reply.id, ok: false, error: err.toShape() } satisfies Response);
    }
    conn.write(out);
    this.scheduler.wrote(conn);
  }
}
