// The control socket's own frame fuzzer: against a running pair on a home,
// send N fuzzed frames over many connections (random bytes, truncated frames,
// huge length prefixes, wrong shapes, every op with mutated fields, nil,
// undefined and ext types) and count what came back. Requests that could
// change the store always carry an unknown field (refused by the strict
// schemas), so a run leaves the store as it found it: the caller can check.
import fc from 'fast-check';
import { connect as netConnect } from 'node:net';
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { encodeFrame, FrameDecoder, MAX_FRAME, MAX_REPLY_FRAME } from '../src/protocol/frame.js';
import { requestSchemas } from '../src/protocol/requests.js';

export interface FuzzOptions {
  frames: number;
  /** Connections used in all (each gets a share of the frames). */
  connections?: number;
  /** Connections open at once. */
  parallel?: number;
  seed?: number;
}

export interface FuzzResult {
  framesSent: number;
  connections: number;
  /** Error replies received (bad-request, bad-frame, frame-too-large, ...). */
  errorsAnswered: number;
  okAnswered: number;
  /** Connections the HAM closed (a frame it cannot read ends its connection). */
  connectionsCut: number;
  /** Error codes seen, with counts. */
  codes: Record<string, number>;
  rssBefore: number;
  rssAfter: number;
  hamBefore: { pid: number; epoch: number };
  hamAfter: { pid: number; epoch: number };
  ms: number;
}

/** A frame, and whether it ends the connection (nothing after it can be framed). */
interface Fuzzed {
  bytes: Buffer;
  fatal: boolean;
}

const ops = Object.keys(requestSchemas) as (keyof typeof requestSchemas)[];
/** Ops that change the store or the pair: sent with an unknown field, so always refused. */
const MUTATING = new Set([
  'attach',
  'detach',
  'reset',
  'stop',
  'condition-add',
  'condition-rm',
  'action-add',
  'action-rm',
  'enable',
  'raise',
  'state',
  'apply',
  'self-attach',
  'self-detach',
  'store',
  'health-reply',
  'stats',
]);

/** The field names of an op's schema (through refinements and defaults). */
function fieldsOf(op: keyof typeof requestSchemas): string[] {
  let s: any = requestSchemas[op];
  while (s && !s.shape && s._def) s = s._def.schema ?? s._def.innerType;
  return s?.shape ? Object.keys(s.shape) : [];
}

const frame = (body: Buffer | Uint8Array): Buffer => {
  const h = Buffer.alloc(4);
  h.writeUInt32BE(body.length);
  return Buffer.concat([h, Buffer.from(body)]);
};

const fieldValue = fc.oneof(
  fc.anything({ maxDepth: 3, maxKeys: 5 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom('*', '', '.', '..', 'a/b', 'x'.repeat(200), '\u0000', 'web', 'SIGKILL', 'death', '__proto_'),
  fc.integer(),
  fc.double(),
  fc.constantFrom(null, undefined, true, false, 0, -1, 2 ** 53, Number.NaN),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 5 }),
);

const request = fc
  .record({
    op: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...ops) }, { weight: 1, arbitrary: fc.string({ maxLength: 70 }) }),
    id: fc.oneof(fc.nat(1_000_000), fc.constantFrom(0, -1, 2 ** 53, 1.5)),
    pick: fc.array(fc.nat(), { maxLength: 6 }),
    values: fc.array(fieldValue, { maxLength: 6 }),
    extra: fc.boolean(),
  })
  .map(({ op, id, pick, values, extra }) => {
    const fields = ops.includes(op as never) ? fieldsOf(op as never) : ['name'];
    const args: Record<string, unknown> = {};
    values.forEach((v, i) => (args[fields.length ? fields[(pick[i] ?? i) % fields.length]! : 'x'] = v));
    if (extra || MUTATING.has(op)) args.fuzz = true; // strict schemas refuse it: nothing changes
    return { bytes: encodeFrame({ id, op, args }), fatal: false };
  });

/** msgpack bodies JS values cannot express: nil, undefined, timestamps, other ext types. */
const special = fc.oneof(
  fc.constant(Buffer.from([0xc0])),
  fc.constant(Buffer.from([0xd4, 0x00, 0x00])),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => Buffer.from([0xd6, 0xff, ...b])),
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => Buffer.from([0xd7, 0xff, ...b])),
  fc.tuple(fc.integer({ min: -128, max: 127 }), fc.uint8Array({ maxLength: 16 })).map(([t, b]) => Buffer.from([0xc7, b.length, t & 0xff, ...b])),
  fc.nat(5000).map((n) => Buffer.from([...Array(n).fill(0x91), 0xc0])), // deep nesting
  fc.constant(Buffer.from([0x81, 0xa9, ...Buffer.from('__proto__'), 0x01])), // a key msgpackr would rename
);

const fuzzed: fc.Arbitrary<Fuzzed> = fc.oneof(
  { weight: 6, arbitrary: request },
  { weight: 2, arbitrary: special.map((b) => ({ bytes: frame(b), fatal: false })) },
  { weight: 2, arbitrary: fc.anything({ maxDepth: 4 }).map((v) => ({ bytes: encodeFrame(v === undefined ? null : v), fatal: false })) },
  // Random bodies: undecodable ones end the connection.
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => ({ bytes: frame(b), fatal: true })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: MAX_FRAME + 1, max: 0xffffffff })
      .map((n) => ({ bytes: Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]), fatal: true })),
  },
  { weight: 1, arbitrary: fc.tuple(request, fc.nat()).map(([r, cut]) => ({ bytes: r.bytes.subarray(0, 1 + (cut % (r.bytes.length - 1))), fatal: true })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 256 }).map((b) => ({ bytes: Buffer.from(b), fatal: true })) },
);

/** One connection: send its frames in one write, then a ping; count what comes back. */
function runConnection(socket: string, frames: Fuzzed[], into: FuzzResult): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect(socket);
    const dec = new FrameDecoder(MAX_REPLY_FRAME);
    const fatal = frames.some((f) => f.fatal);
    const SENTINEL = 987_654_321;
    let done = false;
    const finish = (cut: boolean): void => {
      if (done) return;
      done = true;
      if (cut) into.connectionsCut++;
      clearTimeout(timer);
      s.destroy();
      resolve();
    };
    // A truncated frame leaves the HAM waiting for the rest: we hang up ourselves.
    const timer = setTimeout(() => finish(false), fatal ? 500 : 30_000);
    s.on('error', () => undefined);
    s.on('close', () => finish(true));
    s.on('data', (c: Buffer) => {
      let replies: { id?: number; ok?: boolean; error?: { code?: string } }[];
      try {
        replies = dec.push(c) as typeof replies;
      } catch {
        return finish(false);
      }
      for (const r of replies) {
        if (r.id === SENTINEL) return finish(false);
        if (r.ok === false) {
          into.errorsAnswered++;
          const code = r.error?.code ?? '?';
          into.codes[code] = (into.codes[code] ?? 0) + 1;
        } else into.okAnswered++;
      }
    });
    s.on('connect', () => {
      s.write(Buffer.concat([...frames.map((f) => f.bytes), ...(fatal ? [] : [encodeFrame({ id: SENTINEL, op: 'ping', args: {} })])]));
      into.framesSent += frames.length;
    });
  });
}

export async function fuzzFrames(home: string, o: FuzzOptions): Promise<FuzzResult> {
  const socket = homePaths(home).socket;
  const started = Date.now();
  const probe = async (): Promise<{ pid: number; epoch: number; rss: number }> => {
    const c = await Connection.open(socket, 5000);
    try {
      const ping = (await c.request('ping', {}, 30_000)) as { pid: number; epoch: number };
      const stats = (await c.request('stats', {}, 30_000)) as { rssBytes: number };
      return { ...ping, rss: stats.rssBytes };
    } finally {
      c.close();
    }
  };
  const before = await probe();
  const all = fc.sample(fuzzed, { numRuns: o.frames, seed: o.seed ?? 42 });
  const nConn = Math.max(1, o.connections ?? Math.ceil(o.frames / 20));
  // Deal the frames out; a fatal frame ends its connection's batch (what follows it would be unread).
  const batches: Fuzzed[][] = Array.from({ length: nConn }, () => []);
  all.forEach((f, i) => batches[i % nConn]!.push(f));
  const split: Fuzzed[][] = [];
  for (const b of batches) {
    let cur: Fuzzed[] = [];
    for (const f of b) {
      cur.push(f);
      if (f.fatal) {
        split.push(cur);
        cur = [];
      }
    }
    if (cur.length) split.push(cur);
  }
  const result: FuzzResult = {
    framesSent: 0,
    connections: split.length,
    errorsAnswered: 0,
    okAnswered: 0,
    connectionsCut: 0,
    codes: {},
    rssBefore: before.rss,
    rssAfter: 0,
    hamBefore: { pid: before.pid, epoch: before.epoch },
    hamAfter: { pid: 0, epoch: 0 },
    ms: 0,
  };
  const parallel = o.parallel ?? 32;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, split.length) }, async () => {
      while (next < split.length) await runConnection(socket, split[next++]!, result);
    }),
  );
  const after = await probe();
  Object.assign(result, { rssAfter: after.rss, hamAfter: { pid: after.pid, epoch: after.epoch }, ms: Date.now() - started });
  return result;
}
