// A raise flood: many connections pipelining raises as fast as they can write.
// Memory must stay bounded (the control socket's backpressure, protocol/scheduler.ts)
// and the HAM must keep answering others (a ping's latency during the flood).
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { median, nowMs, quantile, sleep, startBenchPair } from './lib.js';

export interface FloodResult {
  connections: number;
  raises: number;
  /** Raises committed per second over the flood. */
  perSecond: number;
  rssBeforeBytes: number;
  rssPeakBytes: number;
  rssAfterBytes: number;
  /** Ping round trips from another connection during the flood (ms). */
  pingMs: { p50: number; p99: number; max: number };
  takeovers: number;
}

export async function benchFlood(connections = 50, perConnection = 5000): Promise<FloodResult> {
  const pair = await startBenchPair({ hangMs: 3000 });
  try {
    const socket = homePaths(pair.home).socket;
    const probe = await Connection.open(socket, 5000);
    await probe.request('attach', { name: 'web' }); // a placeholder: raises need an entity
    const stats = async (): Promise<{ rssBytes: number }> => (await probe.request('stats', {}, 60_000)) as { rssBytes: number };
    const epoch = (await pair.status()).ham.epoch;
    const rssBeforeBytes = (await stats()).rssBytes;
    const conns = await Promise.all(Array.from({ length: connections }, () => Connection.open(socket, 5000)));
    let rssPeakBytes = rssBeforeBytes;
    const pings: number[] = [];
    let running = true;
    const sampler = (async () => {
      while (running) {
        const t0 = nowMs();
        await probe.request('ping', {}, 60_000);
        pings.push(nowMs() - t0);
        rssPeakBytes = Math.max(rssPeakBytes, (await stats()).rssBytes);
        await sleep(100);
      }
    })();
    const t0 = nowMs();
    const all: Promise<unknown>[] = [];
    for (const c of conns) for (let i = 0; i < perConnection; i++) all.push(c.request('raise', { entity: 'web', type: 'flood' }, 300_000));
    await Promise.all(all);
    const seconds = (nowMs() - t0) / 1000;
    running = false;
    await sampler;
    const rssAfterBytes = (await stats()).rssBytes;
    for (const c of conns) c.close();
    probe.close();
    const takeovers = (await pair.status()).ham.epoch - epoch;
    return {
      connections,
      raises: connections * perConnection,
      perSecond: Math.round((connections * perConnection) / seconds),
      rssBeforeBytes,
      rssPeakBytes,
      rssAfterBytes,
      pingMs: { p50: median(pings), p99: quantile(pings, 0.99), max: Math.max(...pings) },
      takeovers,
    };
  } finally {
    await pair.close();
  }
}
