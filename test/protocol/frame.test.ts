import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { HamError } from '../../src/errors.js';
import { decodeBody, encodeFrame, encodeReplyFrame, FrameDecoder, FrameError, MAX_FRAME, MAX_REPLY_FRAME } from '../../src/protocol/frame.js';
import { DEFAULT_LIMITS } from '../../src/protocol/scheduler.js';
import { PAGE_BYTES } from '../../src/ham/pages.js';

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

  it('refuses to encode a frame over the limit, with a HamError (it reaches the client library and the CLI)', () => {
    expect(() => encodeFrame({ s: 'x'.repeat(MAX_FRAME + 1) })).toThrow(HamError);
    expect(() => encodeFrame({ s: 'x'.repeat(MAX_FRAME + 1) })).toThrow(expect.objectContaining({ code: 'frame-too-large' }));
  });

  it('a frame that cannot be read is a HamError too: frame-too-large or bad-frame', () => {
    expect(new FrameError('too-large', 'x')).toMatchObject({ code: 'frame-too-large', kind: 'too-large' });
    expect(new FrameError('undecodable', 'x')).toBeInstanceOf(HamError);
    expect(new FrameError('forbidden-key', 'x', 3).toShape()).toEqual({ code: 'bad-frame', message: 'x' });
  });

  it('reports a body that is not msgpack (truncated, or with trailing bytes)', () => {
    for (const body of [
      [0x92, 0x01],
      [0x01, 0x02],
    ]) {
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

describe('decodeBody: every shape a peer may send', () => {
  const body = (...b: (number | string)[]): Buffer => Buffer.concat(b.map((x) => (typeof x === 'string' ? Buffer.from(x) : Buffer.from([x]))));

  it('nil, undefined, timestamps and unknown ext types decode to values (never throw past FrameError)', () => {
    expect(decodeBody(body(0xc0))).toBeNull();
    expect(decodeBody(body(0xd4, 0, 0))).toBeUndefined();
    expect(decodeBody(body(0xd6, 0xff, 0, 0, 0, 1))).toBeInstanceOf(Date);
    for (const b of [body(0xd4, 0x05, 0x00), body(0xc1), body(0xd9, 10, 'a'), Buffer.from([...Array(200_000).fill(0x91), 0xc0])]) {
      try {
        decodeBody(b);
      } catch (e) {
        expect(e).toBeInstanceOf(FrameError);
      }
    }
  });

  it('a __proto__ key is refused with its path; the text elsewhere is fine', () => {
    const nested = body(0x81, 0xa4, 'args', 0x91, 0x81, 0xa9, '__proto__', 0x01);
    expect(() => decodeBody(nested)).toThrow(/forbidden key "__proto__" \(at args\[0\]\.__proto__\)/);
    expect(decodeBody(body(0x81, 0xa1, 'k', 0xa9, '__proto__'))).toEqual({ k: '__proto__' });
  });

  it('a __proto__ key hidden past the look-up budget is refused too, not renamed', () => {
    // 150,000 values, then a map with the key: msgpack array32 header, then nils, then { __proto__: 1 }.
    const n = 150_001;
    const head = Buffer.from([0xdd, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
    const key = Buffer.concat([Buffer.from([0x81, 0xa9]), Buffer.from('__proto__'), Buffer.from([0x01])]);
    const b = Buffer.concat([head, key, Buffer.alloc(n - 1, 0xc0)]); // the map first: deepest in the stack
    expect(() => decodeBody(b)).toThrow(/forbidden key "__proto__"/);
  });

  it('property: any bytes either decode or throw FrameError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          decodeBody(Buffer.from(b));
        } catch (e) {
          return e instanceof FrameError;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('reply size', () => {
  it('the largest reply, on top of the soft output bound, stays under the cut-off; a page fits a reply many times', () => {
    expect(MAX_REPLY_FRAME + DEFAULT_LIMITS.outputSoft).toBeLessThanOrEqual(DEFAULT_LIMITS.outputHard);
    expect(PAGE_BYTES * 4).toBeLessThanOrEqual(MAX_REPLY_FRAME);
  });

  it('a reply over MAX_REPLY_FRAME is refused at encoding, naming the bound', () => {
    expect(() => encodeReplyFrame({ id: 1, ok: true, result: 'x'.repeat(MAX_REPLY_FRAME) })).toThrow(new RegExp(`at most ${MAX_REPLY_FRAME}`));
  });
});
