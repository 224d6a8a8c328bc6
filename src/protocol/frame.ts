// Length-prefixed msgpackr frames: a 4-byte big-endian length, then the body.
import { Packr } from 'msgpackr';

export const MAX_FRAME = 1024 * 1024;
const HEADER = 4;
// Plain maps and no records: peers written in any language can read the wire.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

/** Bytes `value` takes in a frame body (for replies built to fit a page budget). */
export function encodedSize(value: unknown): number {
  return packr.pack(value).length;
}

export function encodeFrame(value: unknown): Buffer {
  const body = packr.pack(value);
  if (body.length > MAX_FRAME) throw new RangeError(`frame of ${body.length} bytes, at most ${MAX_FRAME} allowed`);
  const frame = Buffer.allocUnsafe(HEADER + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER);
  return frame;
}

export class FrameError extends Error {
  constructor(
    readonly kind: 'too-large' | 'undecodable',
    message: string,
  ) {
    super(message);
  }
}

/** Accumulates bytes and yields decoded frames; throws FrameError on bad input. */
export class FrameDecoder {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly max = MAX_FRAME) {}

  push(chunk: Buffer): unknown[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: unknown[] = [];
    while (this.buf.length >= HEADER) {
      const len = this.buf.readUInt32BE(0);
      if (len > this.max) throw new FrameError('too-large', `frame of ${len} bytes announced, at most ${this.max} allowed`);
      if (this.buf.length < HEADER + len) break;
      const body = this.buf.subarray(HEADER, HEADER + len);
      this.buf = this.buf.subarray(HEADER + len);
      try {
        out.push(packr.unpack(body));
      } catch (e) {
        throw new FrameError('undecodable', `frame of ${len} bytes is not msgpack: ${(e as Error).message}`);
      }
    }
    return out;
  }
}
