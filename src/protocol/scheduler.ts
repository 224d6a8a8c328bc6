// Fair, bounded serving of the control socket. Frames are queued per
// connection as they arrive and served round-robin, a bounded slice of time
// per turn of the event loop; between turns the loop runs timers and I/O, so
// the HAM's beat to its Guardian never waits behind client work (20,000
// pipelined requests, or 500 connections at once, used to be one turn: a
// second of silence, and a working HAM was killed as hung).
// Bounds, each per connection: frames queued (reading pauses beyond it, so
// the kernel pushes back on the sender), requests in flight, and output not
// yet read by the peer (its requests wait while it is over the soft bound; it
// is cut off past the hard bound, or when it stays over the soft bound
// without reading for `stallMs`). And two bounds across all connections
// (4,096 × the per-connection bounds would still be ~1M requests and GiBs):
// requests in flight and bytes queued. Past them, a connection that already
// has requests in flight (or queued) waits, is not read, while one with
// nothing in flight is still served: a newcomer's request is always answered.
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface ServeLimits {
  /** Time served per turn before yielding to the event loop (ms). */
  turnMs: number;
  /** Frames served per connection before moving to the next one. */
  perVisit: number;
  /** Queued frames (or bytes) beyond which reading from a connection pauses. */
  queueFrames: number;
  queueBytes: number;
  /** Requests of one connection being handled at once (async handlers). */
  inFlight: number;
  /** Unread output over which a connection's requests wait. */
  outputSoft: number;
  /** Unread output over which a connection is cut off (at least MAX_REPLY_FRAME + outputSoft: one largest reply on top of the soft bound never cuts off). */
  outputHard: number;
  /** Over the soft bound with no byte read by the peer for this long: cut off. */
  stallMs: number;
  /** Requests in flight across all connections past which only connections with none in flight are served. */
  globalInFlight: number;
  /** Bytes queued across all connections past which connections that have work are not read. */
  globalQueueBytes: number;
}

export const DEFAULT_LIMITS: Readonly<ServeLimits> = Object.freeze({
  turnMs: 8,
  perVisit: 16,
  queueFrames: 1024,
  queueBytes: 4 * 1024 * 1024,
  inFlight: 256,
  outputSoft: 1024 * 1024,
  outputHard: 32 * 1024 * 1024,
  stallMs: 10_000,
  globalInFlight: 4096,
  globalQueueBytes: 64 * 1024 * 1024,
});

/** Serve one frame body; a promise while an async handler runs. Must not throw. */
export type Serve = (conn: Socket, body: Buffer) => void | Promise<void>;
/** Cut off a connection, saying why (an error frame, then close). */
export type CutOff = (conn: Socket, why: 'output-hard' | 'output-stalled', bytes: number) => void;

interface Lane {
  conn: Socket;
  queue: Buffer[];
  head: number;
  bytes: number;
  inFlight: number;
  /** In the ready ring. */
  ready: boolean;
  /** Waiting for 'drain'. */
  held: boolean;
  stallTimer: NodeJS.Timeout | undefined;
}

export class Scheduler {
  private readonly lanes = new Map<Socket, Lane>();
  /** Lanes with work, in turn order (a queue: served from ringHead). */
  private ring: Lane[] = [];
  private ringHead = 0;
  private scheduled = false;
  /** Turns that ran out of time with work left (a figure for stats and tests). */
  yields = 0;
  /** Requests in flight and bytes queued across all connections, and their peaks (figures for stats and tests). */
  inFlightAll = 0;
  bytesAll = 0;
  peakInFlight = 0;
  peakBytes = 0;
  /** Lanes not read because of the global byte bound. */
  private readonly throttled = new Set<Lane>();
  /** Lanes waiting because of the global in-flight bound. */
  private readonly waitingGlobal = new Set<Lane>();

  constructor(
    private readonly serve: Serve,
    private readonly cutOff: CutOff,
    readonly limits: ServeLimits = DEFAULT_LIMITS,
  ) {}

  add(conn: Socket): void {
    const lane: Lane = { conn, queue: [], head: 0, bytes: 0, inFlight: 0, ready: false, held: false, stallTimer: undefined };
    this.lanes.set(conn, lane);
    conn.on('drain', () => {
      if (!lane.held) return;
      lane.held = false;
      clearTimeout(lane.stallTimer);
      this.wake(lane);
    });
    conn.once('close', () => this.drop(conn));
  }

  /** Queue frame bodies that arrived on `conn`. */
  enqueue(conn: Socket, bodies: Buffer[]): void {
    const lane = this.lanes.get(conn);
    if (!lane || bodies.length === 0) return;
    const hadWork = lane.inFlight > 0 || this.pending(lane) > 0;
    for (const b of bodies) {
      lane.queue.push(b);
      lane.bytes += b.length;
      this.bytesAll += b.length;
    }
    this.peakBytes = Math.max(this.peakBytes, this.bytesAll);
    if (this.pending(lane) > this.limits.queueFrames || lane.bytes > this.limits.queueBytes) conn.pause();
    else if (hadWork && this.bytesAll > this.limits.globalQueueBytes) {
      conn.pause(); // read again once the total is down (resumeThrottled)
      this.throttled.add(lane);
    }
    this.wake(lane);
  }

  /** Frames waiting on a connection (for tests and stats). */
  queued(conn: Socket): number {
    const lane = this.lanes.get(conn);
    return lane ? this.pending(lane) : 0;
  }

  /** Check a connection's output after something was written to it. */
  wrote(conn: Socket): void {
    if (conn.destroyed || conn.writableEnded || !this.lanes.has(conn) || conn.writableLength <= this.limits.outputHard) return;
    this.cutOff(conn, 'output-hard', conn.writableLength);
    this.drop(conn);
  }

  private drop(conn: Socket): void {
    const lane = this.lanes.get(conn);
    if (!lane) return;
    clearTimeout(lane.stallTimer);
    this.lanes.delete(conn);
    this.throttled.delete(lane);
    this.waitingGlobal.delete(lane);
    this.bytesAll -= lane.bytes;
    lane.queue = []; // memory comes back with the connection
    lane.head = 0;
    lane.bytes = 0;
  }

  private pending(lane: Lane): number {
    return lane.queue.length - lane.head;
  }

  private wake(lane: Lane): void {
    if (lane.ready || !this.lanes.has(lane.conn)) return;
    lane.ready = true;
    this.ring.push(lane);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.turn());
    }
  }

  /** Whether a lane can be served now; arranges to be woken when it can. */
  private eligible(lane: Lane): boolean {
    if (!this.lanes.has(lane.conn) || lane.conn.destroyed) return false;
    if (this.pending(lane) === 0) return false;
    if (lane.inFlight >= this.limits.inFlight) return false; // woken when one completes
    if (lane.inFlight > 0 && this.inFlightAll >= this.limits.globalInFlight) {
      this.waitingGlobal.add(lane); // woken when the total is under the bound
      return false;
    }
    if (lane.conn.writableLength > this.limits.outputSoft) {
      this.hold(lane);
      return false;
    }
    return true;
  }

  /** Over the soft output bound: wait for 'drain'; cut off if the peer reads nothing for stallMs. */
  private hold(lane: Lane): void {
    if (lane.held) return;
    lane.held = true;
    let last = lane.conn.writableLength;
    const check = (): void => {
      if (!lane.held || lane.conn.destroyed) return;
      const now = lane.conn.writableLength;
      if (now <= this.limits.outputSoft) {
        lane.held = false;
        return this.wake(lane);
      }
      if (now < last) {
        last = now; // it reads, slowly: give it another window
        lane.stallTimer = setTimeout(check, this.limits.stallMs);
        return;
      }
      this.cutOff(lane.conn, 'output-stalled', now);
      this.drop(lane.conn);
    };
    lane.stallTimer = setTimeout(check, this.limits.stallMs);
  }

  private turn(): void {
    this.scheduled = false;
    const start = performance.now();
    while (this.ringHead < this.ring.length) {
      if (performance.now() - start >= this.limits.turnMs) {
        this.yields++;
        break;
      }
      const lane = this.ring[this.ringHead++]!;
      lane.ready = false;
      for (let n = 0; n < this.limits.perVisit && this.eligible(lane); n++) this.serveOne(lane);
      if (this.eligible(lane)) {
        lane.ready = true;
        this.ring.push(lane); // round-robin: to the back
      }
    }
    this.resumeThrottled();
    if (this.ringHead > 1024 && this.ringHead * 2 > this.ring.length) {
      this.ring = this.ring.slice(this.ringHead);
      this.ringHead = 0;
    }
    if (this.ringHead < this.ring.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.turn());
    }
  }

  /** Read again from lanes held for the global byte bound, once the total is down to half. */
  private resumeThrottled(): void {
    if (this.throttled.size === 0 || this.bytesAll > this.limits.globalQueueBytes / 2) return;
    for (const lane of this.throttled) {
      if (this.pending(lane) <= this.limits.queueFrames / 2 && lane.bytes <= this.limits.queueBytes / 2 && !lane.conn.destroyed) lane.conn.resume();
    }
    this.throttled.clear();
  }

  private serveOne(lane: Lane): void {
    const body = lane.queue[lane.head]!;
    lane.queue[lane.head++] = undefined as unknown as Buffer;
    lane.bytes -= body.length;
    this.bytesAll -= body.length;
    if (lane.head > 1024 && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
    if (lane.conn.isPaused() && !this.throttled.has(lane) && this.pending(lane) <= this.limits.queueFrames / 2 && lane.bytes <= this.limits.queueBytes / 2)
      lane.conn.resume();
    const r = this.serve(lane.conn, body);
    if (r) {
      lane.inFlight++;
      this.inFlightAll++;
      if (this.inFlightAll > this.peakInFlight) this.peakInFlight = this.inFlightAll;
      void r.finally(() => {
        lane.inFlight--;
        this.inFlightAll--;
        this.wake(lane);
        if (this.waitingGlobal.size > 0 && this.inFlightAll < this.limits.globalInFlight) {
          for (const l of this.waitingGlobal) this.wake(l);
          this.waitingGlobal.clear();
        }
      });
    }
  }
}
