import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, FrameError, MAX_FRAME } from '../../src/protocol/frame.js';

describe('length-prefixed msgpack frames', () => {
  it('round-trips values, whatever the chunking', () => {
    const values = [{ id: 1, op: 'ping', args: {} }, 'text', [1, 2, { a: null }], { big: 'x'.repeat(70_000) }];
    const bytes = Buffer.concat(values.map(encodeFrame));
    for (const size of [1, 3, 7, 64, bytes.length]) {
      const dec = new FrameDecoder();
      const out: unknown[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...dec.push(bytes.subarray(i, i + size)));
      expect(out).toEqual(values);
    }
  });

  it('refuses an announced length over the limit before buffering it', () => {
    const dec = new FrameDecoder(100);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(101);
    expect(() => dec.push(header)).toThrowError(FrameError);
    expect(() => new FrameDecoder(100).push(header)).toThrow(/frame of 101 bytes announced, at most 100 allowed/);
  });

  it('refuses to encode a frame over the limit', () => {
    expect(() => encodeFrame({ s: 'x'.repeat(MAX_FRAME + 1) })).toThrow(RangeError);
  });

  it('reports a body that is not msgpack (truncated, or with trailing bytes)', () => {
    for (const body of [[0x92, 0x01], [0x01, 0x02]]) {
      expect(() => new FrameDecoder().push(Buffer.from([0, 0, 0, body.length, ...body]))).toThrow(FrameError);
    }
    const frame = Buffer.from([0, 0, 0, 2, 0x92, 0x01]);
    try {
      new FrameDecoder().push(frame);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(FrameError);
      expect((e as FrameError).kind).toBe('undecodable');
    }
  });
});
