// A new CLI against an older HAM: its ping answers { pid, epoch } only (no ham
// and guardian fields). `ham start` (already running) and `ham stop` read the
// pair from its status instead of crashing. The old HAM is a real socket
// server in this process speaking that older protocol; its "ham" and
// "guardian" are real processes (sleep), which it kills when told to stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { encodeFrame, FrameDecoder, MAX_REPLY_FRAME } from '../../src/protocol/frame.js';
import { ham, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

/** A reply frame of MAX_REPLY_FRAME + 1 MiB (encodeFrame would refuse it). */
function bigFrame(id: number, result: object): Buffer {
  const body = packr.pack({ id, ok: true, result: { ...result, pad: 'x'.repeat(MAX_REPLY_FRAME + 1024 * 1024) } });
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length);
  return Buffer.concat([head, body]);
}

const packr = new Packr({ useRecords: false });
let t: TestHome;
let server: Server;
let pair: ChildProcess[] = [];
/** Answer status with a reply over the new client's MAX_REPLY_FRAME (an old HAM allowed 64 MiB). */
let bigStatus = false;
beforeEach(async () => {
  t = tempHome();
  pair = [spawn('sleep', ['300']), spawn('sleep', ['300'])];
  const [h, g] = pair.map((p) => p.pid!);
  const old = { ham: { pid: h, epoch: 7, failures: 0 }, guardian: { pid: g, failures: 0 }, entities: [], global: null, lastSeq: 0 };
  server = createServer((c) => {
    const dec = new FrameDecoder();
    c.on('error', () => undefined);
    c.on('data', (d: Buffer) => {
      for (const f of dec.push(d) as { id: number; op: string }[]) {
        if (f.op === 'ping') c.write(encodeFrame({ id: f.id, ok: true, result: { pid: h, epoch: 7 } }));
        else if (f.op === 'status') c.write(bigStatus ? bigFrame(f.id, old) : encodeFrame({ id: f.id, ok: true, result: old }));
        else if (f.op === 'stop') {
          c.write(encodeFrame({ id: f.id, ok: true, result: null }));
          for (const p of pair) p.kill('SIGKILL');
        } else c.write(encodeFrame({ id: f.id, ok: false, error: { code: 'unknown-command', message: f.op } }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(join(t.home, 'ham.sock'), r));
});
afterEach((ctx) => {
  bigStatus = false;
  server.close();
  for (const p of pair) p.kill('SIGKILL');
  t.cleanup(ctx);
});

it('ham start sees the old pair running (from its status), ham stop stops it', async () => {
  const [h, g] = pair.map((p) => p.pid!);
  const start = await ham(t.home, ['--json', 'start']);
  expect(start.code, start.stdout + start.stderr).toBe(0);
  expect(JSON.parse(start.stdout)).toMatchObject({ already: true, ham: { pid: h, epoch: 7 }, guardian: { pid: g } });
  const stop = await ham(t.home, ['--json', 'stop']);
  expect(stop.code, stop.stdout + stop.stderr).toBe(0);
  expect(stop.stdout + stop.stderr).not.toMatch(/Cannot read properties/);
  await waitFor('the old pair gone', () => pair.every((p) => p.exitCode !== null || p.signalCode !== null) || undefined);
}, 60_000);

it("a reply over the client's frame bound fails the command with bad-frame, naming the bound (no crash)", async () => {
  bigStatus = true;
  const r = await ham(t.home, ['status']);
  expect(r.code).not.toBe(0);
  expect(r.stdout + r.stderr).toMatch(
    new RegExp(`bad-frame: unreadable reply from the HAM: frame of \\d+ bytes announced, at most ${MAX_REPLY_FRAME} allowed`),
  );
}, 60_000);
