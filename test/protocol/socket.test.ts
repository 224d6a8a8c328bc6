// Bad input on the control socket: every kind gets an error naming what is
// wrong, and the daemon keeps serving everyone else.
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/client/connection.js';
import { HamError } from '../../src/errors.js';
import { encodeFrame, FrameDecoder, MAX_FRAME } from '../../src/protocol/frame.js';
import { CALM, hamJson, status, tempHome, type TestHome } from '../helpers/ham.js';

let t: TestHome;
let sock: string;
const open: Socket[] = [];

beforeAll(async () => {
  t = tempHome();
  sock = join(t.home, 'ham.sock');
  await hamJson(t.home, ['start', ...CALM]);
});
afterAll((suite) => t.cleanup({ task: suite }));
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

/** Send raw bytes; resolve with the decoded replies after `n` replies, or at close if `untilClose`. */
function raw(bytes: Buffer, untilClose = false): Promise<{ replies: any[]; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = netConnect(sock);
    open.push(s);
    const dec = new FrameDecoder();
    const replies: any[] = [];
    const timer = setTimeout(() => reject(new Error(`no ${untilClose ? 'close' : 'reply'} within 10 s (got ${replies.length} replies)`)), 10_000);
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      resolve({ replies, closed });
    };
    s.on('data', (c: Buffer) => {
      replies.push(...dec.push(c));
      if (!untilClose && replies.length > 0) done(false);
    });
    s.on('close', () => done(true));
    s.on('error', () => undefined);
    s.write(bytes);
  });
}

async function request(op: string, args: unknown): Promise<HamError> {
  const r = await raw(encodeFrame({ id: 9, op, args }));
  expect(r.replies[0]).toMatchObject({ id: 9, ok: false });
  return new HamError(r.replies[0].error);
}

/** After every bad input, a fresh client is still served. */
async function stillServing(): Promise<void> {
  const s = await status(t.home);
  expect(s.ham.pid).toBeGreaterThan(0);
}

describe('control socket: bad frames close only that connection', () => {
  it('bytes that are not msgpack: bad-frame reply, connection closed', async () => {
    const body = Buffer.from([0xc1, 0xc1, 0xc1]); // 0xc1 is never valid msgpack
    const frame = Buffer.concat([Buffer.from([0, 0, 0, body.length]), body]);
    const r = await raw(frame, true);
    expect(r.replies[0].error.code).toBe('bad-frame');
    expect(r.closed).toBe(true);
    await stillServing();
  });

  it('an announced length over the limit: frame-too-large, connection closed', async () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(MAX_FRAME + 1);
    const r = await raw(header, true);
    expect(r.replies[0].error).toMatchObject({ code: 'frame-too-large' });
    expect(r.replies[0].error.message).toMatch(new RegExp(`at most ${MAX_FRAME}`));
    expect(r.closed).toBe(true);
    await stillServing();
  });

  it('a frame cut short and abandoned leaves the daemon serving', async () => {
    const s = netConnect(sock);
    open.push(s);
    s.write(Buffer.from([0, 0, 1, 0, 1, 2, 3]));
    await stillServing();
  });

  it('a slow client (one byte at a time) is served', async () => {
    const frame = encodeFrame({ id: 4, op: 'ping', args: {} });
    const s = netConnect(sock);
    open.push(s);
    const dec = new FrameDecoder();
    const reply = new Promise<any>((resolve) => s.on('data', (c: Buffer) => dec.push(c).forEach(resolve)));
    for (const b of frame) s.write(Buffer.from([b]));
    expect(await reply).toMatchObject({ id: 4, ok: true, result: { pid: expect.any(Number) } });
  });
});

describe('control socket: bad requests get an error naming the field, the connection stays', () => {
  it('a frame that is not a request object', async () => {
    const r = await raw(encodeFrame([1, 2, 3]));
    expect(r.replies[0].error.code).toBe('bad-request');
    expect(r.replies[0].error.message).toMatch(/request: expected object, got an array of 3/);
  });

  it('an unknown command names the known ones', async () => {
    const e = await request('reboot', {});
    expect(e.code).toBe('unknown-command');
    expect(e.message).toMatch(/unknown command "reboot", expected one of .*status.*attach/);
  });

  it('a missing field', async () => {
    const e = await request('raise', { entity: 'x' });
    expect(e.code).toBe('bad-request');
    expect(e.message).toMatch(/raise\.type: expected string, got nothing/);
  });

  it('a field of the wrong type', async () => {
    const e = await request('attach', { name: 5, argv: ['x'] });
    expect(e.message).toMatch(/attach\.name: expected string, got number 5/);
  });

  it('a name with a slash, an empty name, an over-long name', async () => {
    expect((await request('attach', { name: 'a/b', argv: ['sleep'] })).message).toMatch(/attach\.name: expected a name without '\/', got "a\/b"/);
    expect((await request('attach', { name: '', argv: ['sleep'] })).message).toMatch(/attach\.name: expected a non-empty name/);
    expect((await request('attach', { name: 'x'.repeat(200), argv: ['sleep'] })).message).toMatch(/attach\.name: expected at most 128 characters/);
  });

  it('an unexpected field', async () => {
    const e = await request('status', { verbose: true });
    expect(e.message).toMatch(/status\.verbose: unexpected field/);
    expect(e.issues).toEqual([{ path: 'status.verbose', expected: 'unexpected field' }]);
  });

  it('a command that does not exist', async () => {
    const e = await request('attach', { name: 'ghost', argv: ['no-such-program-anywhere'] });
    expect(e).toMatchObject({ code: 'bad-request', entity: 'ghost' });
    expect(e.message).toMatch(/expected an executable file, got "no-such-program-anywhere" \(not found in PATH\)/);
    expect((await status(t.home)).entities.find((x) => x.name === 'ghost')).toBeUndefined();
  });

  it('a huge bad request gets a short error (at most 10 problems listed), and the daemon serves on', async () => {
    const e = await request('attach', { name: 'x', argv: Array.from({ length: 30_000 }, () => 1) });
    expect(e.code).toBe('bad-request');
    expect(e.message).toMatch(/attach\.argv\[0\]: expected string, got number 1/);
    expect(e.message).toMatch(/and \d+ more$/);
    expect(e.message.length).toBeLessThan(2000);
    await stillServing();
  });

  it('a NUL byte in an argument or an environment value', async () => {
    expect((await request('attach', { name: 'n', argv: ['sleep', 'a\0b'] })).message).toMatch(/attach\.argv\[1\]: expected no NUL byte/);
    expect((await request('attach', { name: 'n', argv: ['sleep', '1'], env: { A: 'x\0y' } })).message).toMatch(/attach\.env\.A: expected no NUL byte/);
  });

  it('an unknown entity', async () => {
    const e = await request('detach', { name: 'nobody' });
    expect(e).toMatchObject({ code: 'unknown-entity', entity: 'nobody' });
  });

  it("a __proto__ key: a bad-request naming it, under the request's id, at once; the connection serves on", async () => {
    const c = await Connection.open(sock);
    try {
      // JSON.parse makes __proto__ an own key (msgpackr sends it as one).
      const args = JSON.parse('{"entity":"web","type":"x","__proto__":{"polluted":true}}') as never;
      const err = (await c.request('raise', args, 60_000).catch((e: unknown) => e)) as HamError;
      expect(err).toBeInstanceOf(HamError);
      expect(err.code).toBe('bad-request');
      expect(err.message).toMatch(/forbidden key "__proto__" \(at args\.__proto__\)/);
      expect(await c.request('ping', {})).toMatchObject({ pid: expect.any(Number) });
    } finally {
      c.close();
    }
  });

  it('many bad requests on one connection, then a good one on the same connection', async () => {
    const c = await Connection.open(sock);
    try {
      for (let i = 0; i < 50; i++) await expect(c.request('attach' as never, { name: i } as never)).rejects.toMatchObject({ code: 'bad-request' });
      expect(await c.request('ping', {})).toMatchObject({ pid: expect.any(Number) });
    } finally {
      c.close();
    }
    await stillServing();
  });
});
