// Length-prefixed msgpackr frames: a 4-byte big-endian length, then the body.
// Decoding never throws anything but FrameError: whatever bytes a peer sends
// cost that connection at most, never the process.
// msgpackr/pack, not msgpackr: the same Packr without loading the optional native string
// extractor (~10 ms of every CLI start); in the daemon lmdb loads it, for these too.
import { Packr } from 'msgpackr/pack';
import { encodedSize, packr } from '../model/encoding.js';
import { HamError } from '../model/errors.js';

export { encodedSize };

/** The largest frame a client may send (requests). */
export const MAX_FRAME = 1024 * 1024;
/**
 * The largest reply the HAM sends. Large answers come in pages of a quarter of
 * MAX_FRAME (ham/pages.ts), so this is a wide margin; it stays below the
 * scheduler's cut-off (outputHard) so that no single reply cuts its client off.
 */
export const MAX_REPLY_FRAME = 16 * 1024 * 1024;
const HEADER = 4;
// Maps as Map: to see keys that objects would rename (`__proto__`).
const mapUnpackr = new Packr({ useRecords: false, mapsAsObjects: false, moreTypes: false });
const PROTO = Buffer.from('__proto__');
const KEY_CHECK_MAX = 100_000;

export function encodeFrame(value: unknown): Buffer {
  return encodeWithin(value, MAX_FRAME);
}

/** A frame the HAM sends (replies may be larger than requests). */
export function encodeReplyFrame(value: unknown): Buffer {
  return encodeWithin(value, MAX_REPLY_FRAME);
}

function encodeWithin(value: unknown, max: number): Buffer {
  const body = packr.pack(value);
  if (body.length > max) throw new HamError({ code: 'frame-too-large', message: `frame of ${body.length} bytes, at most ${max} allowed` });
  const frame = Buffer.allocUnsafe(HEADER + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER);
  return frame;
}

/** A frame that cannot be read, as a HamError (`frame-too-large` or `bad-frame`); `kind` says which case. */
export class FrameError extends HamError {
  constructor(
    readonly kind: 'too-large' | 'undecodable' | 'forbidden-key',
    message: string,
    /** The frame's id, when it could be read (a forbidden key: the rest decoded). */
    readonly id?: number,
  ) {
    super({ code: kind === 'too-large' ? 'frame-too-large' : 'bad-frame', message });
  }
}

/**
 * A frame body as a value. Throws FrameError: undecodable bytes (including
 * nesting too deep for the stack), or a `__proto__` key, which the decoder
 * would silently rename: refused, naming the key.
 */
export function decodeBody(body: Buffer): unknown {
  let value: unknown;
  try {
    value = packr.unpack(body);
  } catch (e) {
    throw new FrameError('undecodable', `frame of ${body.length} bytes is not msgpack: ${(e as Error).message}`);
  }
  // Cheap gate: only a frame whose bytes hold the string is decoded again to look at its keys.
  if (body.includes(PROTO)) {
    const path = protoKeyPath(mapUnpackr.unpack(body));
    if (path !== undefined)
      throw new FrameError('forbidden-key', `forbidden key "__proto__" (at ${path}): msgpack maps may not use it as a key`, frameId(value));
  }
  return value;
}

function frameId(v: unknown): number | undefined {
  const id = typeof v === 'object' && v !== null ? (v as { id?: unknown }).id : undefined;
  return typeof id === 'number' && Number.isSafeInteger(id) ? id : undefined;
}

/** The path of the first `__proto__` key (iterative: nesting cannot overflow the stack). */
function protoKeyPath(root: unknown): string | undefined {
  const stack: [unknown, string][] = [[root, '']];
  for (let seen = 0; stack.length && seen < KEY_CHECK_MAX; seen++) {
    const [v, at] = stack.pop()!;
    if (v instanceof Map) {
      for (const [k, x] of v) {
        const p = at ? `${at}.${String(k)}` : String(k);
        if (k === '__proto__') return p;
        stack.push([x, p]);
      }
    } else if (Array.isArray(v)) v.forEach((x, i) => stack.push([x, `${at}[${i}]`]));
  }
  // Too many values to look through: refused too (a key past the budget would be renamed silently).
  return stack.length ? `(somewhere among more than ${KEY_CHECK_MAX} values)` : undefined;
}

/** Accumulates bytes and yields frame bodies (undecoded); throws FrameError on a bad length. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly max = MAX_FRAME) {}

  /** Bytes held for a frame not complete yet. */
  get buffered(): number {
    return this.buf.length;
  }

  pushRaw(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(0);
      if (len > this.max) throw new FrameError('too-large', `frame of ${len} bytes announced, at most ${this.max} allowed`);
      if (this.buf.length < HEADER + len) break;
      out.push(this.buf.subarray(HEADER, HEADER + len));
      this.buf = this.buf.subarray(HEADER + len);
    }
    return out;
  }

  /** Decoded frames. */
  push(chunk: Buffer): unknown[] {
    return this.pushRaw(chunk).map(decodeBody);
  }
}
