// What an independent probe found on the control socket, each now a test:
// a 5-byte frame killed the HAM; ordinary load (20,000 pipelined requests,
// 500 connections) looked like a hang and cost a takeover; a client that
// never reads grew the HAM without bound; `__proto__` keys were renamed.
// Every test checks the HAM's pid and epoch: no crash, no takeover.
import { writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { encodeFrame, FrameDecoder, MAX_REPLY_FRAME } from '../../src/protocol/frame.js';
import { ham, hamJson, request, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let sock: string;
let pair: { pid: number; epoch: number };
const open: Socket[] = [];

beforeAll(async () => {
  t = tempHome();
  sock = join(t.home, 'ham.sock');
  // The default hang threshold (1 s): the probe's setting. Load must not look like a hang.
  // Saved states at their largest allowed size (512 KiB) make the big replies below.
  await hamJson(t.home, ['start', '--saved-max-bytes', String(512 * 1024)]);
  pair = await request<{ pid: number; epoch: number }>(t.home, 'ping', {});
});
afterAll((suite) => t.cleanup({ task: suite }));
afterEach(async () => {
  for (const s of open.splice(0)) s.destroy();
  // Same process, same epoch: nothing crashed and nobody took over.
  expect(await request(t.home, 'ping', {})).toEqual(pair);
});

const frameOf = (body: number[] | Buffer): Buffer => {
  const b = Buffer.from(body);
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length);
  return Buffer.concat([h, b]);
};

/** Send bytes on a fresh connection; the replies that came, and whether it closed, once quiet. */
function raw(bytes: Buffer, quietMs = 300): Promise<{ replies: any[]; closed: boolean }> {
  return new Promise((resolve) => {
    const s = netConnect(sock);
    open.push(s);
    const dec = new FrameDecoder(MAX_REPLY_FRAME);
    const replies: any[] = [];
    let closed = false;
    let quiet: NodeJS.Timeout | undefined;
    const settle = (): void => {
      clearTimeout(quiet);
      quiet = setTimeout(() => resolve({ replies, closed }), quietMs);
    };
    s.on('data', (c: Buffer) => {
      replies.push(...dec.push(c));
      settle();
    });
    s.on('close', () => {
      closed = true;
      clearTimeout(quiet);
      resolve({ replies, closed });
    });
    s.on('error', () => undefined);
    s.on('connect', () => {
      s.write(bytes);
      settle();
    });
  });
}

const stats = (): Promise<{ rssBytes: number; control: { cutOff: number; connections: number } }> => request(t.home, 'stats', {});

describe('one frame cannot kill the HAM', () => {
  it('the two 5-byte frames of the probe: msgpack nil and undefined get a bad-request', async () => {
    const nil = await raw(Buffer.from('00000001c0', 'hex'));
    expect(nil.replies[0]).toMatchObject({ id: 0, ok: false, error: { code: 'bad-request' } });
    expect(nil.replies[0].error.message).toMatch(/request: expected object, got null/);
    const undef = await raw(Buffer.from('00000003d40000', 'hex'));
    expect(undef.replies[0]).toMatchObject({ ok: false, error: { code: 'bad-request' } });
  });

  const shapes: [string, Buffer][] = [
    ['a timestamp (ext -1 → Date)', frameOf([0xd6, 0xff, 0, 0, 0, 1])],
    ['an unknown ext type', frameOf([0xd4, 0x05, 0x00])],
    ['an array', encodeFrame([1, 'two', null])],
    ['a number', encodeFrame(42)],
    ['a string', encodeFrame('status')],
    ['a beat whose args are nil', encodeFrame({ id: 0, op: 'beat', args: null })],
    ['a beat whose name is a map (a notification: no answer)', encodeFrame({ id: 0, op: 'beat', args: { name: { x: 1 } } })],
    [
      'a request whose args are a timestamp',
      Buffer.concat([
        frameOf([0x83, 0xa2, 0x69, 0x64, 0x05, 0xa2, 0x6f, 0x70, 0xa6, ...Buffer.from('status'), 0xa4, ...Buffer.from('args'), 0xd6, 0xff, 0, 0, 0, 1]),
      ]),
    ],
    ['a request whose op is an ext', frameOf([0x82, 0xa2, 0x69, 0x64, 0x05, 0xa2, 0x6f, 0x70, 0xd4, 0x07, 0x00])],
    ['an id of -1 and 2^53', Buffer.concat([encodeFrame({ id: -1, op: 'ping', args: {} }), encodeFrame({ id: 2 ** 53, op: 'ping', args: {} })])],
    ['nesting 100,000 deep', frameOf([...Array(100_000).fill(0x91), 0xc0])],
    ['bytes that are not msgpack', frameOf([0xc1])],
    ['a length prefix of 4 GiB', Buffer.from('ffffffff', 'hex')],
    ['a truncated frame', Buffer.from('000000ff8301', 'hex')],
    ['a frame with trailing bytes', frameOf([0xc0, 0xc0, 0xc0])],
  ];
  for (const [what, bytes] of shapes) {
    it(`${what}: answered (or that connection closed), and the HAM serves on`, async () => {
      const r = await raw(bytes);
      for (const reply of r.replies) expect(reply.ok === false || typeof reply.result === 'object').toBe(true);
      expect(r.replies.length > 0 || r.closed || /truncated|notification/.test(what)).toBe(true);
      expect((await status(t.home)).ham.pid).toBe(pair.pid);
    });
  }

  it('a __proto__ key is refused with a bad-request naming it (it used to be renamed silently)', async () => {
    // { id: 3, op: 'store', args: { name: 'x', value: { __proto__: 1 } } } built by hand: JS cannot.
    const body = Buffer.concat([
      Buffer.from([0x83, 0xa2]),
      Buffer.from('id'),
      Buffer.from([0x03, 0xa2]),
      Buffer.from('op'),
      Buffer.from([0xa5]),
      Buffer.from('store'),
      Buffer.from([0xa4]),
      Buffer.from('args'),
      Buffer.from([0x82, 0xa4]),
      Buffer.from('name'),
      Buffer.from([0xa1]),
      Buffer.from('x'),
      Buffer.from([0xa5]),
      Buffer.from('value'),
      Buffer.from([0x81, 0xa9]),
      Buffer.from('__proto__'),
      Buffer.from([0x01]),
    ]);
    const r = await raw(frameOf(body));
    expect(r.replies[0]).toMatchObject({ ok: false, error: { code: 'bad-request' } });
    expect(r.replies[0].error.message).toMatch(/forbidden key "__proto__" \(at args\.value\.__proto__\)/);
    expect(r.closed).toBe(false);
    // A value that merely contains the text is fine.
    expect((await raw(encodeFrame({ id: 4, op: 'ping', args: {}, note: '__proto__' }))).replies[0].error.message).toMatch(/request\.note: unexpected field/);
  });
});

describe('load is not a hang (hang threshold 1 s)', () => {
  it('20,000 pipelined status requests in one write: all answered, and another client is served meanwhile', async () => {
    const N = 20_000;
    const s = netConnect(sock);
    open.push(s);
    await new Promise((r) => s.once('connect', r));
    const dec = new FrameDecoder(MAX_REPLY_FRAME);
    let got = 0;
    const all = new Promise<void>((resolve) =>
      s.on('data', (c: Buffer) => {
        got += dec.push(c).length;
        if (got >= N) resolve();
      }),
    );
    s.write(Buffer.concat(Array.from({ length: N }, (_, i) => encodeFrame({ id: i + 1, op: 'status', args: {} }))));
    const other = await status(t.home); // within status()'s own deadline, while the flood is served
    expect(other.ham).toMatchObject({ pid: pair.pid, epoch: pair.epoch });
    await all;
    expect(got).toBe(N);
  }, 120_000);

  it('500 connections at once, each sending one status: all answered', async () => {
    const answered = await Promise.all(
      Array.from(
        { length: 500 },
        () =>
          new Promise<number>((resolve, reject) => {
            const s = netConnect(sock);
            open.push(s);
            const dec = new FrameDecoder(MAX_REPLY_FRAME);
            s.on('error', reject);
            s.on('connect', () => s.write(encodeFrame({ id: 1, op: 'status', args: {} })));
            s.on('data', (c: Buffer) => {
              const r = dec.push(c) as { ok: boolean; result: { ham: { epoch: number } } }[];
              if (r.length) resolve(r[0]!.result.ham.epoch);
            });
          }),
      ),
    );
    expect(answered).toEqual(Array(500).fill(pair.epoch));
  }, 120_000);
});

describe('a client that never reads', () => {
  it('300 restores of a 500 KB value: its requests wait, it is cut off, the HAM stays small and serves others', async () => {
    await request(t.home, 'attach', { name: 'big' });
    await request(t.home, 'store', { name: 'big', value: 'x'.repeat(500_000) });
    const before = (await stats()).rssBytes;
    const s = netConnect(sock);
    open.push(s);
    await new Promise((r) => s.once('connect', r));
    s.pause(); // never reads
    s.on('error', () => undefined);
    s.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => encodeFrame({ id: i + 1, op: 'restore', args: { name: 'big' } }))));
    // Unbounded, this held 300 × 500 KB; bounded, a couple of replies at most.
    const cut = await waitFor('the never-reading client cut off', async () => ((await stats()).control.cutOff > 0 ? stats() : undefined), 60_000);
    expect(cut.rssBytes - before).toBeLessThan(64 * 1024 * 1024);
    expect((await status(t.home)).ham.pid).toBe(pair.pid); // others are served
    s.destroy();
    await waitFor('the connection gone', async () => (await stats()).control.connections <= 1);
    expect((await stats()).rssBytes - before).toBeLessThan(64 * 1024 * 1024);
  }, 90_000);

  it('a slow reader is held, not cut off: it gets every reply in order', async () => {
    const c = await Connection.open(sock);
    try {
      const replies = await Promise.all(Array.from({ length: 40 }, () => c.request('restore', { name: 'big' }, 60_000) as Promise<{ value: string }>));
      expect(replies.every((r) => r.value.length === 500_000)).toBe(true);
    } finally {
      c.close();
    }
  }, 90_000);
});

describe('apply of 10,000 placeholders', () => {
  it('completes, and the HAM answers status with all of them (no takeover); applying it again changes nothing', async () => {
    const entities = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`p${i}`, { placeholder: true }]));
    const file = join(t.home, 'many.json');
    writeFileSync(file, JSON.stringify({ entities }));
    const first = await ham(t.home, ['apply', '-f', file]);
    expect(first.code, first.stderr).toBe(0);
    const s = await status(t.home);
    expect(s.entities.filter((e) => e.kind === 'placeholder' && /^p\d+$/.test(e.name))).toHaveLength(10_000);
    expect(s.ham).toMatchObject({ pid: pair.pid, epoch: pair.epoch });
    const again = await hamJson<{ changes: { change: string }[] }>(t.home, ['apply', '-f', file]);
    expect(again.changes.filter((c) => c.change !== 'unchanged')).toEqual([]);
  }, 180_000);

  // The commit of such an apply held the event loop ~400 ms: other clients waited.
  // Durations are the bench's (bench/load.ts); here: every status comes, some of
  // them while the apply runs, and the HAM stays the same process and epoch.
  it('another client polling status (first page) is answered throughout, during the apply and during applying it again', async () => {
    const entities = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`q${i}`, { placeholder: true }]));
    const applier = await Connection.open(sock, 10_000);
    const poller = await Connection.open(sock, 10_000);
    try {
      for (const round of ['first', 'again']) {
        let applying = true;
        let during = 0; // asked after the apply was sent, answered before its reply
        let polls = 0;
        const poll = (async () => {
          while (applying) {
            const asked = applying;
            const page = (await poller.request('status', {}, 60_000)) as { entities: unknown[]; ham: { pid: number; epoch: number } };
            expect(page.ham).toMatchObject({ pid: pair.pid, epoch: pair.epoch });
            expect(page.entities.length).toBeGreaterThan(0);
            polls += 1;
            if (asked && applying) during += 1;
          }
        })();
        const result = (await applier.request('apply', { config: { entities } }, 120_000).finally(() => (applying = false))) as {
          changes: { change: string }[];
        };
        await poll;
        expect(result.changes).toHaveLength(10_000);
        expect(new Set(result.changes.map((c) => c.change))).toEqual(new Set([round === 'first' ? 'created' : 'unchanged']));
        expect(polls).toBeGreaterThan(0);
        expect(during, `${round} apply: no status answered while it ran`).toBeGreaterThan(0);
      }
    } finally {
      applier.close();
      poller.close();
    }
    expect(await request(t.home, 'ping', {})).toEqual(pair);
  }, 240_000);
});
