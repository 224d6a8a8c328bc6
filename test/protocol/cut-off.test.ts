// A cut-off connection gets its `too-slow` error last, after what it was sent,
// even when replies of requests still in flight complete after the cut-off
// (they are dropped, not written after the end, which used to raise an error
// that destroyed the socket and its 5 s grace). A real ControlServer on a real
// socket in this process, with an async handler we release at will.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/protocol/frame.js';
import { DEFAULT_LIMITS } from '../../src/protocol/scheduler.js';
import { ControlServer, type Handlers } from '../../src/protocol/server.js';
import { waitFor } from '../helpers/ham.js';

let dir: string;
let server: ControlServer | undefined;
let client: Socket | undefined;
afterEach(() => {
  client?.destroy();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('replies completing after a cut-off are dropped: too-slow arrives last, once', async () => {
  dir = mkdtempSync(join(tmpdir(), 'ham-cut-'));
  const path = join(dir, 's.sock');
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let started = 0;
  const handlers = {
    ping: async () => {
      started++;
      await released;
      return 'x'.repeat(100_000);
    },
  } as unknown as Handlers;
  const trouble: unknown[] = [];
  server = new ControlServer(handlers, {
    limits: { ...DEFAULT_LIMITS, outputSoft: 64 * 1024, outputHard: 1024 * 1024 },
    onTrouble: (_w, e) => trouble.push(e),
  });
  await server.listen(path);
  const c = connect(path);
  client = c;
  await new Promise((r) => c.once('connect', r));
  c.pause(); // reads nothing until the cut-off
  const N = 60; // 60 × 100 KB in flight: well over the 1 MiB hard bound once released
  c.write(Buffer.concat(Array.from({ length: N }, (_, i) => encodeFrame({ id: i + 1, op: 'ping', args: {} }))));
  await waitFor('every ping in flight', () => started === N || undefined);
  release();
  await waitFor('the cut-off', () => server!.counts.cutOff > 0 || undefined);
  const frames: { id: number; ok: boolean; error?: { code: string; message: string } }[] = [];
  const dec = new FrameDecoder(64 * 1024 * 1024);
  const closed = new Promise<void>((r) => c.once('close', () => r()));
  c.on('data', (d: Buffer) => frames.push(...(dec.push(d) as typeof frames)));
  c.on('error', () => undefined);
  c.resume();
  await closed;
  const last = frames.at(-1);
  expect(last).toMatchObject({ id: 0, ok: false, error: { code: 'too-slow' } });
  expect(last?.error?.message).toMatch(/at most 1048576/);
  expect(frames.length).toBeLessThan(N + 1); // later replies were dropped
  expect(server.counts.cutOff).toBe(1);
}, 60_000);
