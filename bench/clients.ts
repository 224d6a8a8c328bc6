// Self-attached clients at scale: heartbeats one HAM ingests per second,
// how late a missed heartbeat fires past its deadline with 1,000 self-attached
// entities, and event fan-out to 100 subscribers.
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { encodeFrame } from '../src/protocol/frame.js';
import { nowMs, sleep, startBenchPair } from './lib.js';

export interface ClientsResult {
  beatsPerSec: number;
  beats: number;
  pingsPerSec: number;
  entities: number;
  lateness: { count: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
  /** All entities silent in the same millisecond (the ring then holds mostly these). */
  herd: ClientsResult['lateness'];
  subscribers: number;
  events: number;
  deliveriesPerSec: number;
}

type Stats = { beats: number; heartbeatLatenessMs: ClientsResult['lateness'] };

/** Until `want` marks are counted, or none came for 2 s (marks fire once per episode). */
async function marksSettle(c: Connection, want: number): Promise<void> {
  let last = -1;
  let since = nowMs();
  for (;;) {
    const n = ((await c.request('stats', {})) as Stats).heartbeatLatenessMs.count;
    if (n >= want) return;
    if (n !== last) {
      last = n;
      since = nowMs();
    } else if (nowMs() - since > 2000) return;
    await sleep(50);
  }
}

export async function benchClients(entities: number, beats: number, subscribers: number, events: number): Promise<ClientsResult> {
  const pair = await startBenchPair({ hangMs: 5000 });
  const socket = homePaths(pair.home).socket;
  const c = await Connection.open(socket, 5000);
  try {
    // 1,000 self-attached entities on 10 connections, heartbeat 100 ms, marks 2/4.
    const conns = await Promise.all(Array.from({ length: 10 }, () => Connection.open(socket, 5000)));
    for (let i = 0; i < entities; i++)
      await conns[i % 10]!.request('self-attach', { name: `s${i}`, pid: process.pid, heartbeatMs: 100, missedLow: 2, missedHigh: 4 }, 30_000);
    const names = Array.from({ length: entities }, (_, i) => `s${i}`);

    // (1) ingest: beats as fast as the sockets take them, then wait until all are counted.
    const frames = names.map((name) => encodeFrame({ id: 0, op: 'beat', args: { name } }));
    const base = ((await c.request('stats', {})) as Stats).beats;
    const t0 = nowMs();
    let sent = 0;
    await Promise.all(
      conns.map(async (conn, k) => {
        const sock = (conn as unknown as { socket: import('node:net').Socket }).socket;
        while (sent < beats) {
          const batch: Buffer[] = [];
          for (let j = 0; j < 256 && sent < beats; j++, sent++) batch.push(frames[(k + j * 10) % entities]!);
          if (!sock.write(Buffer.concat(batch))) await new Promise((r) => sock.once('drain', r));
        }
      }),
    );
    for (;;) {
      const s = (await c.request('stats', {})) as Stats;
      if (s.beats - base >= beats) break;
      await sleep(1);
    }
    const beatsPerSec = beats / ((nowMs() - t0) / 1000);
    const pingStart = nowMs();
    await Promise.all(
      conns.map(async (conn) => {
        for (let i = 0; i < 2000; i++) await conn.request('ping', {});
      }),
    );
    const pingsPerSec = 20_000 / ((nowMs() - pingStart) / 1000);

    // Phase (1)'s entities fall silent now and miss their marks: let them, then start clean.
    await marksSettle(c, entities * 2);
    const rnames = Array.from({ length: entities }, (_, i) => `r${i}`);

    // (2) missed heartbeats, realistic: each entity beats every 100 ms on its own phase
    // (a tenth of them every 10 ms); they fall silent one by one at random moments
    // while the others keep beating. Every silent one misses both marks.
    const silent = new Set<number>();
    let tick = 0;
    const beater = setInterval(() => {
      const phase = tick++ % 10;
      for (let i = phase; i < entities; i += 10) if (!silent.has(i)) conns[i % 10]!.notify('beat', { name: rnames[i]! });
    }, 10);
    // Beating from the moment each is attached (a beat before its attach is simply ignored).
    for (let i = 0; i < entities; i++)
      await conns[i % 10]!.request('self-attach', { name: rnames[i]!, pid: process.pid, heartbeatMs: 100, missedLow: 2, missedHigh: 4 }, 30_000);
    await sleep(1000);
    await c.request('stats', { reset: true });
    const before = 0;
    const order = rnames.map((_, i) => i).sort(() => Math.random() - 0.5);
    for (const i of order) {
      silent.add(i);
      await sleep(entities >= 1000 ? 5 : 20);
    }
    await marksSettle(c, before + entities * 2);
    clearInterval(beater);
    const lateness = ((await c.request('stats', { reset: true })) as Stats).heartbeatLatenessMs;

    // (2b) the thundering herd: all beating in the same millisecond, then all silent at once.
    const hnames = Array.from({ length: entities }, (_, i) => `h${i}`);
    const beatHerd = (): void => hnames.forEach((name, i) => conns[i % 10]!.notify('beat', { name }));
    const herdBeater = setInterval(beatHerd, 50);
    for (let i = 0; i < entities; i++)
      await conns[i % 10]!.request('self-attach', { name: hnames[i]!, pid: process.pid, heartbeatMs: 100, missedLow: 2, missedHigh: 4 }, 30_000);
    await sleep(300);
    await c.request('stats', { reset: true });
    clearInterval(herdBeater);
    beatHerd();
    // Every entity misses both marks; a mark that fired before the reset (the HAM busy attaching
    // a thousand entities, each with a keeper) does not fire again in its episode: stop waiting
    // once no more come, and report how many were measured.
    await marksSettle(c, entities * 2);
    const herd = ((await c.request('stats', {})) as Stats).heartbeatLatenessMs;
    for (const conn of conns) conn.close();

    // (3) fan-out: 100 subscribers, one raiser.
    await c.request('attach', { name: 'fan' });
    let delivered = 0;
    const subs = await Promise.all(Array.from({ length: subscribers }, () => Connection.open(socket, 5000)));
    await Promise.all(subs.map((s) => s.subscribe({ entity: 'fan' }, () => void delivered++)));
    const f0 = nowMs();
    await Promise.all(
      Array.from({ length: 32 }, async (_, k) => {
        for (let i = k; i < events; i += 32) await c.request('raise', { entity: 'fan', type: 'x' });
      }),
    );
    while (delivered < subscribers * events) await sleep(1);
    const deliveriesPerSec = delivered / ((nowMs() - f0) / 1000);
    for (const s of subs) s.close();
    return { beatsPerSec, beats, pingsPerSec, entities, lateness, herd, subscribers, events, deliveriesPerSec };
  } finally {
    c.close();
    await pair.close();
  }
}
