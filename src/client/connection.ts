// A client connection to the control socket: request/response by id.
import { connect as netConnect, type Socket } from 'node:net';
import { HamError, type HamErrorShape } from '../model/errors.js';
import { homePaths, resolveHome } from '../model/home-paths.js';
import { encodeFrame, FrameDecoder, MAX_REPLY_FRAME } from '../protocol/frame.js';
import type { Op, RequestArgs } from '../protocol/requests.js';
import type { Reply } from '../protocol/responses.js';
import type { EventView } from '../protocol/views.js';
import { connectError } from './reach.js';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: HamError) => void;
}

/** A call the HAM makes to the client (a health check), answered with a notification. */
export interface HamCall {
  call: number;
  op: string;
  name: string;
}

interface Incoming {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: HamErrorShape;
  event?: EventView;
  call?: number;
  op?: unknown;
  name?: unknown;
}

export class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<number, (event: EventView) => void>();
  private readonly streamErrors = new Map<number, (e: HamError) => void>();
  private closeHandlers: (() => void)[] = [];
  private callHandler: ((call: HamCall) => void) | undefined;
  private readonly decoder = new FrameDecoder(MAX_REPLY_FRAME);
  /** Why the HAM dropped this connection, when it said (an error with id 0: refused, too-slow, bad-frame...). */
  failure: HamError | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = this.decoder.push(chunk);
      } catch (e) {
        // What the HAM sent cannot be framed (say, a reply over MAX_REPLY_FRAME from another version): the connection fails with it.
        this.failure = new HamError({ code: 'bad-frame', message: `unreadable reply from the HAM: ${(e as Error).message}` });
        this.failAll(this.failure);
        socket.destroy();
        return;
      }
      for (const f of frames) this.receive(f as Incoming);
    });
    socket.on('close', () => {
      for (const h of this.closeHandlers) h();
      this.failAll(this.failure ?? new HamError({ code: 'not-running', message: 'the HAM closed the connection' }));
    });
    socket.on('error', () => undefined);
  }

  static open(socketPath: string, timeoutMs = 2000): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const s = netConnect(socketPath);
      const timer = setTimeout(() => {
        s.destroy();
        reject(new HamError({ code: 'timeout', message: `no answer on ${socketPath} within ${timeoutMs} ms` }));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(new Connection(s));
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectError(socketPath, e));
      });
    });
  }

  request<O extends Op>(op: O, args: Partial<RequestArgs<O>> = {}, timeoutMs = 10_000): Promise<Reply<O>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.socket.destroyed) return reject(this.failure ?? new HamError({ code: 'not-running', message: 'the HAM closed the connection' }));
      let frame: Buffer;
      try {
        frame = encodeFrame({ id, op, args }); // first: a request over MAX_FRAME is refused (frame-too-large) before it waits for anything
      } catch (e) {
        return reject(HamError.from(e));
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HamError({ code: 'timeout', message: `no reply to ${op} within ${timeoutMs} ms` }));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as Reply<O>)), // the HAM's answer to `op` (protocol/responses.ts)
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.socket.write(frame);
    });
  }

  /** A notification (id 0): no reply, no error (heartbeats). */
  notify<O extends Op>(op: O, args: Partial<RequestArgs<O>>): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame({ id: 0, op, args }));
  }

  get closed(): boolean {
    return this.socket.destroyed;
  }

  /** Subscribe to events; `onEvent` gets each one in order. Resolves with the reply. */
  subscribe(args: Partial<RequestArgs<'subscribe'>>, onEvent: (event: EventView) => void, onEnd?: (e: HamError) => void): Promise<Reply<'subscribe'>> {
    const id = this.nextId;
    this.streams.set(id, onEvent);
    if (onEnd) this.streamErrors.set(id, onEnd);
    return this.request('subscribe', args, 30_000);
  }

  /** Calls from the HAM (health checks) on this connection. */
  onCall(h: (call: HamCall) => void): void {
    this.callHandler = h;
  }

  /** Called once when the connection closes (e.g. the HAM changed hands). */
  onClose(h: () => void): void {
    this.closeHandlers.push(h);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private failAll(e: HamError): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    // Subscriptions learn of it by onClose (HamClient resumes them on its next connection).
    this.streamErrors.clear();
    this.streams.clear();
  }

  private receive(msg: Incoming): void {
    if (msg.call !== undefined) {
      if (typeof msg.op === 'string' && typeof msg.name === 'string') this.callHandler?.({ call: msg.call, op: msg.op, name: msg.name });
      return;
    }
    if (msg.event !== undefined) {
      this.streams.get(msg.id)?.(msg.event);
      return;
    }
    const p = this.pending.get(msg.id);
    if (msg.id === 0 && !msg.ok) {
      // Not about one request (the HAM could not tell which): about the connection.
      // Every request waiting fails with it, and the connection with it.
      this.failure = new HamError(msg.error ?? { code: 'internal', message: 'error reply without an error' });
      this.failAll(this.failure);
      this.socket.destroy();
      return;
    }
    if (!p && !msg.ok && this.streams.has(msg.id)) {
      // The HAM ended this subscription (e.g. it fell too far behind).
      this.streams.delete(msg.id);
      this.streamErrors.get(msg.id)?.(new HamError(msg.error ?? { code: 'internal', message: 'subscription ended' }));
      this.streamErrors.delete(msg.id);
      return;
    }
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new HamError(msg.error ?? { code: 'internal', message: 'error reply without an error' }));
  }
}

/** Connect to the HAM serving a home (`home`, else HAM_HOME, else the default). */
export function connect(opts: { home?: string; timeoutMs?: number } = {}): Promise<Connection> {
  return Connection.open(homePaths(resolveHome(opts.home)).socket, opts.timeoutMs);
}
