// The control socket: request/response over length-prefixed msgpackr frames.
// A connection that sends bytes we cannot frame is answered once and closed;
// a well-framed but bad request gets an error reply and the connection stays.
// Either way every other client is unaffected.
import { chmodSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { HamError } from '../errors.js';
import { encodeFrame, FrameDecoder, FrameError } from './frame.js';
import { FlowControl, MAX_CONNECTIONS } from './flow.js';
import { envelope, isOp, parseArgs, validationError, type Op, type RequestArgs } from './requests.js';

export type Handlers = { [O in Op]: (args: RequestArgs<O>, conn: Socket, id: number) => unknown };

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

export class ControlServer {
  private readonly server: Server;
  private readonly conns = new Set<Socket>();
  /** Bounds requests in flight (per connection and in all): a flood is slowed down, not buffered. */
  private readonly flow = new FlowControl();

  constructor(
    private readonly handlers: Handlers,
    private readonly onBeat?: BeatHandler,
  ) {
    this.server = createServer((c) => this.accept(c));
    this.server.maxConnections = MAX_CONNECTIONS;
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

  private accept(conn: Socket): void {
    this.conns.add(conn);
    const decoder = new FrameDecoder();
    const flow = this.flow.open(conn, (f) => this.dispatch(conn, f));
    conn.on('close', () => {
      this.conns.delete(conn);
      flow.close();
    });
    conn.on('error', () => conn.destroy());
    conn.on('data', (chunk: Buffer) => {
      let frames: unknown[];
      try {
        frames = decoder.push(chunk);
      } catch (e) {
        const err = new HamError({ code: e instanceof FrameError && e.kind === 'too-large' ? 'frame-too-large' : 'bad-frame', message: (e as Error).message });
        conn.end(encodeFrame({ id: 0, ok: false, error: err.toShape() } satisfies Response));
        conn.destroy();
        return;
      }
      for (const f of frames) {
        const b = f as { id?: unknown; op?: unknown; args?: { name?: unknown } };
        if (this.onBeat && b.op === 'beat' && b.id === 0 && typeof b.args?.name === 'string') {
          this.onBeat(conn, b.args.name);
          continue;
        }
        flow.push(f);
      }
      flow.pump();
    });
  }

  private async dispatch(conn: Socket, frame: unknown): Promise<void> {
    const id = typeof frame === 'object' && frame !== null && typeof (frame as { id?: unknown }).id === 'number' ? (frame as { id: number }).id : 0;
    let reply: Response;
    let notification = false;
    try {
      const env = envelope.safeParse(frame);
      if (!env.success) throw validationError('request', frame, env.error);
      notification = env.data.id === 0; // a well-formed request with id 0 wants no answer
      const { op, args } = env.data;
      if (!isOp(op)) throw new HamError({ code: 'unknown-command', message: `unknown command ${JSON.stringify(op)}, expected one of ${Object.keys(this.handlers).join(', ')}` });
      const handler = this.handlers[op] as (a: unknown, c: Socket, id: number) => unknown;
      reply = { id, ok: true, result: (await handler(parseArgs(op, args), conn, id)) ?? null };
    } catch (e) {
      reply = { id, ok: false, error: HamError.from(e).toShape() };
    }
    if (conn.destroyed || notification) return;
    let out: Buffer;
    try {
      out = encodeFrame(reply);
    } catch (e) {
      // A reply too large for a frame becomes a short error, never a crash.
      const err = new HamError({ code: 'internal', message: `the reply to request ${id} could not be sent: ${(e as Error).message}` });
      out = encodeFrame({ id, ok: false, error: err.toShape() } satisfies Response);
    }
    conn.write(out);
  }
}
