// Detectors at scale:
// (1) stream event → condition fired, measured inside the HAM from the moment
//     the line is read to the moment its conditions are committed and their
//     runs started; next to a `ping` round trip measured in the same run;
// (2) N check detectors at a 1 s interval: the HAM's event-loop delay
//     (sampled every 1 ms) while they run, for growing N.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { median, nowMs, sleep, startBenchPair } from './lib.js';

type Summary = { count: number; p50: number | null; p90: number | null; p99: number | null; max: number | null };
interface Stats {
  loopDelayMs: { p50: number; p99: number; max: number; count: number } | undefined;
  detectors: { checksRun: number; streamLatencyMs: Summary };
}

export interface DetectorsResult {
  stream: Summary;
  pingMs: number;
  checks: { n: number; seconds: number; checksPerSec: number; loop: { p50: number; p99: number; max: number } }[];
}

async function call<T>(socket: string, op: string, args: object): Promise<T> {
  const c = await Connection.open(socket, 5000);
  try {
    return (await c.request(op as never, args as never, 60_000)) as T;
  } finally {
    c.close();
  }
}

export async function benchDetectors(streamEvents: number, counts: number[], seconds: number): Promise<DetectorsResult> {
  const pair = await startBenchPair({ hangMs: 5000 });
  const socket = homePaths(pair.home).socket;
  const dir = join(pair.home, 'detectors');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  try {
    await pair.request('attach', { name: 'web', argv: ['sleep', '100000'], restart: false });
    await call(socket, 'condition-add', {
      entity: 'web',
      name: 'slow',
      condition: { type: 'raise', rearm: true, match: { type: 'latency' }, actions: [{ kind: 'waitfor', delayMs: 0 }] },
    });

    // (1) One event every 20 ms (under the rate limit), each its own pipe write.
    const pings: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t0 = nowMs();
      await call(socket, 'ping', {});
      pings.push(nowMs() - t0);
    }
    await call(socket, 'stats', { reset: true });
    writeFileSync(
      join(dir, 'latency'),
      `#!/usr/bin/perl\n# ham: kind=stream entity=web\n$| = 1;\nfor (1..${streamEvents}) { print qq({"raise":{"type":"latency","severity":2}}\\n); select(undef, undef, undef, 0.02); }\nsleep 100000;\n`,
      { mode: 0o700 },
    );
    let s: Stats;
    const deadline = nowMs() + streamEvents * 40 + 30_000;
    do {
      await sleep(200);
      s = await call<Stats>(socket, 'stats', {});
    } while (s.detectors.streamLatencyMs.count < streamEvents && nowMs() < deadline);
    const stream = s.detectors.streamLatencyMs;

    // (2) Growing numbers of checks at 1 s; a check is `sh` exiting 0.
    const checks: DetectorsResult['checks'] = [];
    let have = 0;
    for (const n of counts) {
      for (; have < n; have++)
        writeFileSync(join(dir, `c${have}`), '#!/bin/sh\n# ham: kind=check entity=web interval=1s timeout=5s\nexit 0\n', { mode: 0o700 });
      await sleep(3000); // all loaded and past their first run
      const before = (await call<Stats>(socket, 'stats', { reset: true, loop: 'start' })).detectors.checksRun;
      const t0 = nowMs();
      await sleep(seconds * 1000);
      const after = await call<Stats>(socket, 'stats', { loop: 'stop' });
      const el = (nowMs() - t0) / 1000;
      const l = after.loopDelayMs!;
      checks.push({ n, seconds: el, checksPerSec: (after.detectors.checksRun - before) / el, loop: { p50: l.p50, p99: l.p99, max: l.max } });
    }
    return { stream, pingMs: median(pings), checks };
  } finally {
    await pair.close();
  }
}
