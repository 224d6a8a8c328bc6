// Load a user can cause, against a running pair with a 1 s hang threshold:
// pipelined floods, many connections, a huge apply, clients that never read
// their replies, a thousand subscribers. During every phase a separate probe
// asks `status` every ~50 ms; each phase records the probe's latency, whether
// a takeover happened (the epoch moved) and the HAM's RSS. The target: status
// within 100 ms throughout, and never a takeover. Every phase is bounded in
// time and closes what it opened; the pair and its home go at the end.
import { connect as netConnect, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { encodeFrame, FrameDecoder } from '../src/protocol/frame.js';
import { memKiB } from '../src/proc/procfs.js';
import { fmt, quantile, sleep, startBenchPair, type Pair } from './lib.js';

export interface LoadPhase {
  name: string;
  seconds: number;
  /** What the phase itself saw (replies received, connections made...). */
  note: string;
  probe: { count: number; p50: number; p99: number; max: number; failed: number; lastError: string | null };
  takeover: boolean;
  epoch: { before: number; after: number };
  rssMiB: { before: number; max: number; after: number };
  error: string | null;
}

export interface LoadResult {
  hangMs: number;
  phases: LoadPhase[];
  /** Status within 100 ms throughout and no takeover, in every phase. */
  ok: boolean;
}

const PROBE_EVERY_MS = 50;
const PROBE_TIMEOUT_MS = 3000;
export const TARGET_MS = 100;

/** A raw socket: frames written as given, replies counted (or never read). */
async function rawSocket(home: string, read = true): Promise<{ s: Socket; replies: () => number; closed: () => boolean }> {
  const s = netConnect(homePaths(home).socket);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  let n = 0;
  let closed = false;
  const dec = new FrameDecoder(64 * 1024 * 1024);
  s.on('error', () => undefined);
  s.on('close', () => (closed = true));
  if (read) s.on('data', (c: Buffer) => void (n += dec.push(c).length));
  else s.pause();
  return { s, replies: () => n, closed: () => closed };
}

const frames = (n: number, make: (i: number) => object): Buffer => Buffer.concat(Array.from({ length: n }, (_, i) => encodeFrame({ id: i + 1, ...make(i) })));

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (ok()) return true;
    await sleep(20);
  }
  return ok();
}

/** The status probe: its own connection (reopened after a takeover), one request every ~50 ms. */
function startProbe(home: string): { stop: () => Promise<{ lat: number[]; failed: number; lastError: string | null }> } {
  const lat: number[] = [];
  let failed = 0;
  let lastError: string | null = null;
  let running = true;
  const loop = (async () => {
    let c: Connection | undefined;
    while (running) {
      const t0 = performance.now();
      try {
        c ??= await Connection.open(homePaths(home).socket, PROBE_TIMEOUT_MS);
        await c.request('status', {}, PROBE_TIMEOUT_MS);
        lat.push(performance.now() - t0);
      } catch (e) {
        failed += 1;
        lastError = (e as Error).message.slice(0, 100);
        lat.push(performance.now() - t0);
        c?.close();
        c = undefined;
      }
      await sleep(Math.max(0, PROBE_EVERY_MS - (performance.now() - t0)));
    }
    c?.close();
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { lat, failed, lastError };
    },
  };
}

/** Who is HAM now (a ping: its reply stays small however many entities there are). */
async function whoIsHam(home: string, ms = 15_000): Promise<{ pid: number; epoch: number } | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const c = await Connection.open(homePaths(home).socket, 1000);
      try {
        return (await c.request('ping', {}, 2000)) as { pid: number; epoch: number };
      } finally {
        c.close();
      }
    } catch {
      await sleep(100);
    }
  }
  return undefined;
}

type PhaseFn = (home: string, track: (s: Socket) => void, ham: number) => Promise<string>;

const PHASES: [string, PhaseFn][] = [
  [
    'flood: 20,000 status frames in one write',
    async (home, track) => {
      const r = await rawSocket(home);
      track(r.s);
      r.s.write(frames(20_000, () => ({ op: 'status', args: {} })));
      await until(() => r.replies() >= 20_000 || r.closed(), 20_000);
      return `${r.replies()} replies${r.closed() ? ', connection closed' : ''}`;
    },
  ],
  [
    'flood: 300 pipelined restore of a 512 KiB value (the largest a saved state may be)',
    async (home, track) => {
      const c = await Connection.open(homePaths(home).socket);
      await c.request('store', { name: 'saver', value: 'x'.repeat(512 * 1024 - 16) }, 10_000).catch((e: Error) => e);
      c.close();
      const r = await rawSocket(home);
      track(r.s);
      r.s.write(frames(300, () => ({ op: 'restore', args: { name: 'saver' } })));
      await until(() => r.replies() >= 300 || r.closed(), 20_000);
      return `${r.replies()} replies${r.closed() ? ', connection closed' : ''}`;
    },
  ],
  [
    'flood: 20,000 raise frames in one write (a log action each)',
    async (home, track) => {
      const r = await rawSocket(home);
      track(r.s);
      r.s.write(frames(20_000, (i) => ({ op: 'raise', args: { entity: 'target', type: 'load', severity: i % 5 } })));
      await until(() => r.replies() >= 20_000 || r.closed(), 20_000);
      return `${r.replies()} replies${r.closed() ? ', connection closed' : ''}`;
    },
  ],
  [
    '500 connections, one status each',
    async (home, track) => {
      const socks = await Promise.all(Array.from({ length: 500 }, () => rawSocket(home).catch(() => undefined)));
      const ok = socks.filter((x): x is NonNullable<typeof x> => !!x);
      for (const r of ok) track(r.s);
      for (const r of ok) r.s.write(frames(1, () => ({ op: 'status', args: {} })));
      await until(() => ok.every((r) => r.replies() >= 1 || r.closed()), 20_000);
      return `${ok.length} connected, ${ok.filter((r) => r.replies() >= 1).length} answered`;
    },
  ],
  [
    'slow readers: 20 clients × 2,000 status requests, never reading',
    async (home, track) => {
      const rs = await Promise.all(Array.from({ length: 20 }, () => rawSocket(home, false)));
      for (const r of rs) {
        track(r.s);
        r.s.write(frames(2000, () => ({ op: 'status', args: {} })));
      }
      await sleep(5000);
      return `${rs.filter((r) => r.closed()).length} of 20 closed by the HAM`;
    },
  ],
  [
    '1,000 subscribers, 200 events fanned out',
    async (home, track) => {
      const rs = await Promise.all(Array.from({ length: 1000 }, () => rawSocket(home).catch(() => undefined)));
      const ok = rs.filter((x): x is NonNullable<typeof x> => !!x);
      for (const r of ok) {
        track(r.s);
        r.s.write(frames(1, () => ({ op: 'subscribe', args: {} })));
      }
      await until(() => ok.every((r) => r.replies() >= 1 || r.closed()), 20_000);
      const c = await Connection.open(homePaths(home).socket);
      try {
        for (let i = 0; i < 200; i++) await c.request('raise', { entity: 'target', type: 'fan' }, 10_000).catch(() => undefined);
      } finally {
        c.close();
      }
      await until(() => ok.every((r) => r.replies() >= 201 || r.closed()), 20_000);
      return `${ok.length} subscribed, ${ok.filter((r) => r.replies() >= 201).length} got all 200 events`;
    },
  ],
  [
    'huge apply: 10,000 placeholders',
    async (home) => {
      const entities: Record<string, object> = {};
      for (let i = 0; i < 10_000; i++) entities[`ph-${i}`] = { placeholder: true };
      const c = await Connection.open(homePaths(home).socket);
      try {
        const t0 = performance.now();
        const r = await c.request('apply', { config: { entities } }, 30_000).then(
          () => 'applied',
          (e: Error) => `refused: ${e.message.slice(0, 120)}`,
        );
        return `${r} in ${fmt(performance.now() - t0)} ms`;
      } finally {
        c.close();
      }
    },
  ],
];

async function runPhase(pair: Pair, name: string, fn: PhaseFn, phaseMs: number): Promise<LoadPhase> {
  const before = await whoIsHam(pair.home);
  const hamPid = before?.pid ?? 0;
  const rss = { before: memKiB(hamPid, 'status', 'VmRSS') / 1024, max: 0, after: 0 };
  rss.max = rss.before;
  const sampler = setInterval(() => (rss.max = Math.max(rss.max, memKiB(hamPid, 'status', 'VmRSS') / 1024)), 100);
  const socks: Socket[] = [];
  const probe = startProbe(pair.home);
  const t0 = performance.now();
  let note = '';
  let error: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  try {
    note = await Promise.race([
      fn(pair.home, (s) => socks.push(s), hamPid),
      new Promise<string>((_, reject) => (timer = setTimeout(() => reject(new Error(`phase cut at ${phaseMs} ms`)), phaseMs))),
    ]);
  } catch (e) {
    error = (e as Error).message;
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  for (const s of socks) s.destroy();
  await sleep(500); // the probe also sees the moments after the phase's clients are gone
  const { lat, failed, lastError } = await probe.stop();
  clearInterval(sampler);
  const after = await whoIsHam(pair.home);
  rss.after = memKiB(after?.pid ?? hamPid, 'status', 'VmRSS') / 1024;
  const epoch = { before: before?.epoch ?? -1, after: after?.epoch ?? -1 };
  return {
    name,
    seconds,
    note,
    probe: { count: lat.length, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), max: Math.max(...lat), failed, lastError },
    takeover: epoch.after !== epoch.before || after?.pid !== hamPid,
    epoch,
    rssMiB: rss,
    error: error ?? (after ? null : 'no HAM answered after the phase'),
  };
}

/** Every phase against one pair (restarted if a phase left none answering). */
export async function benchLoad(opts: { hangMs?: number; phaseMs?: number } = {}): Promise<LoadResult> {
  const hangMs = opts.hangMs ?? 1000;
  const phases: LoadPhase[] = [];
  let pair = await startBenchPair({ hangMs, savedMaxBytes: 512 * 1024 });
  try {
    for (const [name, fn] of PHASES) {
      // The targets: an entity raises go to, and one whose saved value restore returns (already there: a refusal, ignored).
      await pair.request('attach', { name: 'target', argv: ['sleep', '1000000'], restart: false }).catch(() => undefined);
      await pair.request('attach', { name: 'saver', argv: ['sleep', '1000000'], restart: false }).catch(() => undefined);
      const p = await runPhase(pair, name, fn, opts.phaseMs ?? 30_000);
      phases.push(p);
      if (p.error === 'no HAM answered after the phase') {
        await pair.close();
        pair = await startBenchPair({ hangMs, savedMaxBytes: 512 * 1024 });
      }
    }
  } finally {
    await pair.close();
  }
  return { hangMs, phases, ok: phases.every((p) => !p.takeover && p.probe.max <= TARGET_MS && p.probe.failed === 0) };
}

export function loadTable(r: LoadResult): string {
  const rows = [
    ['phase', 'status p50 / p99 / max', 'probe failures', 'takeover', 'HAM RSS before → max → after', 'what the phase saw'],
    ...r.phases.map((p) => [
      p.name,
      `${fmt(p.probe.p50)} / ${fmt(p.probe.p99)} / ${fmt(p.probe.max)} ms`,
      p.probe.failed ? `${p.probe.failed} (${p.probe.lastError})` : '0',
      p.takeover ? `yes (epoch ${p.epoch.before} → ${p.epoch.after})` : 'no',
      `${p.rssMiB.before.toFixed(0)} → ${p.rssMiB.max.toFixed(0)} → ${p.rssMiB.after.toFixed(0)} MiB`,
      `${p.note}${p.error ? ` (${p.error})` : ''}`,
    ]),
  ];
  return [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((x) => `| ${x.join(' | ')} |`)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchLoad().then(
    (r) => {
      process.stdout.write(
        `load (hang threshold ${r.hangMs} ms; target: status ≤ ${TARGET_MS} ms, no takeover): ${r.ok ? 'met' : 'NOT met'}\n\n${loadTable(r)}\n`,
      );
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`load bench failed: ${e.stack}\n`);
      process.exit(1);
    },
  );
}
