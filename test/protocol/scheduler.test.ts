// The scheduler on real sockets in this process, with a trivial serve: a
// flood on one connection neither starves another nor delays timers (the
// beat to the Guardian runs on a timer), and a flood is not read ahead
// without bound.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/protocol/frame.js';
import { DEFAULT_LIMITS, Scheduler } from '../../src/protocol/scheduler.js';
import { waitFor } from '../helpers/ham.js';

let dir: string;
let server: Server;
const clients: Socket[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-sched-'));
});
afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A server whose every frame body is served by `serve` through a Scheduler. */
async function serveWith(
  serve: (conn: Socket, body: Buffer) => void | Promise<void>,
  limits = DEFAULT_LIMITS,
): Promise<{ sched: Scheduler; path: string; conns: Socket[] }> {
  const path = join(dir, 's.sock');
  const conns: Socket[] = [];
  const sched = new Scheduler(serve, (c) => c.destroy(), limits);
  server = createServer((c) => {
    conns.push(c);
    sched.add(c);
    const dec = new FrameDecoder();
    c.on('data', (d: Buffer) => sched.enqueue(c, dec.pushRaw(d)));
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { sched, path, conns };
}

const frames = (n: number, tag: number): Buffer => {
  const one = Buffer.from([0, 0, 0, 1, tag]);
  return Buffer.concat(Array(n).fill(one));
};

async function client(path: string): Promise<Socket> {
  const s = connect(path);
  clients.push(s);
  await new Promise((r) => s.once('connect', r));
  return s;
}

const busy = (ms: number): void => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('Scheduler', () => {
  it('a flood on one connection does not starve another, and timers run between turns', async () => {
    const served: number[] = [];
    let timerFiredAt = -1;
    const { sched, path } = await serveWith((_c, body) => {
      served.push(body[0]!);
      busy(0.05); // 20,000 × 50 µs: a second of work, in slices
    });
    const flood = await client(path);
    const single = await client(path);
    flood.write(frames(20_000, 1));
    await new Promise((r) => setTimeout(r, 50));
    setTimeout(() => (timerFiredAt = served.length), 0);
    single.write(frames(1, 2));
    await new Promise<void>((resolve) => {
      const poll = (): void => (served.filter((x) => x === 1).length === 20_000 && served.includes(2) ? resolve() : void setTimeout(poll, 20));
      poll();
    });
    expect(served.indexOf(2)).toBeLessThan(20_000); // served before the flood was done
    expect(timerFiredAt).toBeGreaterThan(-1);
    expect(timerFiredAt).toBeLessThan(20_000); // the timer did not wait for the flood
    expect(sched.yields).toBeGreaterThan(0);
  }, 60_000);

  it('reading pauses while a connection has too much queued, and resumes as it is served', async () => {
    let release: (() => void) | undefined;
    let n = 0;
    const limits = { ...DEFAULT_LIMITS, queueFrames: 100, inFlight: 1 };
    const { sched, path, conns } = await serveWith(() => void n++, limits);
    // Serve nothing for now: a serve that returns a promise holds the lane (inFlight 1).
    (sched as unknown as { serve: (c: Socket, b: Buffer) => Promise<void> }).serve = () => {
      n++;
      return new Promise<void>((r) => (release = r));
    };
    const s = await client(path);
    s.write(frames(50_000, 1));
    await new Promise<void>((resolve) => {
      const poll = (): void => (conns[0] && conns[0].isPaused() ? resolve() : void setTimeout(poll, 10));
      poll();
    });
    expect(sched.queued(conns[0]!)).toBeLessThan(50_000); // not all read ahead
    expect(n).toBe(1);
    (sched as unknown as { serve: (c: Socket, b: Buffer) => void }).serve = () => void n++;
    release!();
    await new Promise<void>((resolve) => {
      const poll = (): void => (n === 50_000 ? resolve() : void setTimeout(poll, 10));
      poll();
    });
    expect(conns[0]!.isPaused()).toBe(false);
  }, 60_000);

  it('past the global bounds, lanes with work wait unread; a newcomer is served; all is served in the end', async () => {
    // Per-connection queue bounds out of the way: only the global ones hold.
    const limits = { ...DEFAULT_LIMITS, queueFrames: 1e9, queueBytes: 1e9, globalInFlight: 20, globalQueueBytes: 20_000 };
    const held: (() => void)[] = [];
    let hold = true;
    const served = new Map<Socket, number>();
    const { sched, path, conns } = await serveWith((c) => {
      served.set(c, (served.get(c) ?? 0) + 1);
      if (hold) return new Promise<void>((r) => held.push(r));
      return Promise.resolve();
    }, limits);
    const C = 10;
    const N = 400_000; // 5 bytes a frame: 2 MB each (more than the kernel buffers), far over the global 20 KB
    const flooders = await Promise.all(Array.from({ length: C }, () => client(path)));
    for (const s of flooders) s.write(frames(N, 1));
    await new Promise<void>((resolve) => {
      const poll = (): void => (held.length >= limits.globalInFlight ? resolve() : void setTimeout(poll, 10));
      poll();
    });
    // Every flooder goes unread (paused) past the global byte bound, with at most a read each queued.
    await waitFor('every flooding connection paused', () => (conns.slice(0, C).every((c) => c.isPaused()) ? true : undefined), 60_000, 10);
    expect(sched.bytesAll).toBeLessThanOrEqual(limits.globalQueueBytes + C * 64 * 1024);
    expect(sched.inFlightAll).toBeLessThanOrEqual(limits.globalInFlight + C);
    // A newcomer, nothing in flight: served although the totals are over.
    const newcomer = await client(path);
    newcomer.write(frames(1, 2));
    await new Promise<void>((resolve) => {
      const poll = (): void => (conns.length === C + 1 && served.get(conns[C]!) === 1 ? resolve() : void setTimeout(poll, 10));
      poll();
    });
    expect(sched.peakBytes).toBeLessThanOrEqual(limits.globalQueueBytes + C * 64 * 1024);
    // Released: everything is served, nothing lost.
    hold = false;
    for (const r of held.splice(0)) r();
    const total = (): number => [...served.values()].reduce((a, b) => a + b, 0);
    const release = (): void => {
      for (const r of held.splice(0)) r();
    };
    await new Promise<void>((resolve) => {
      const poll = (): void => (release(), total() === C * N + 1 ? resolve() : void setTimeout(poll, 10));
      poll();
    });
    expect(sched.peakInFlight).toBeLessThanOrEqual(limits.globalInFlight + C + 1);
    expect(sched.bytesAll).toBe(0);
  }, 120_000);
});
