// The control socket under load, on a fresh pair with the default hang
// threshold (1 s): 20,000 pipelined status requests in one write, 500
// connections at once, and a fuzz run; for each, the wall time, the HAM's
// longest event-loop stall while it ran (what the Guardian's watchdog
// sees), and whether a takeover happened (it must not).
import { connect as netConnect } from 'node:net';
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/home.js';
import { encodeFrame, FrameDecoder, MAX_REPLY_FRAME } from '../src/protocol/frame.js';
import { fuzzFrames, type FuzzResult } from './fuzz-frames.js';
import { startBenchPair } from './lib.js';

export interface LoadFigure {
  ms: number;
  /** The longest event-loop delay in the HAM while it ran (ms). */
  maxLoopDelayMs: number;
  takeover: boolean;
}

export interface ControlLoadResult {
  pipelined: LoadFigure & { requests: number };
  connections: LoadFigure & { count: number };
  fuzz: LoadFigure & Pick<FuzzResult, 'framesSent' | 'errorsAnswered' | 'connectionsCut' | 'rssBefore' | 'rssAfter'>;
}

async function measured<T>(socket: string, run: () => Promise<T>): Promise<LoadFigure & { out: T }> {
  const c = await Connection.open(socket);
  try {
    const before = (await c.request('ping', {})) as { epoch: number };
    await c.request('stats', { loop: 'start' });
    const t = performance.now();
    const out = await run();
    const ms = performance.now() - t;
    const s = (await c.request('stats', { loop: 'stop' }, 30_000)) as { loopDelayMs?: { max: number } };
    const after = (await c.request('ping', {})) as { epoch: number };
    return { ms, maxLoopDelayMs: s.loopDelayMs?.max ?? NaN, takeover: after.epoch !== before.epoch, out };
  } finally {
    c.close();
  }
}

function statusFlood(socket: string, perConn: number, conns: number): Promise<void> {
  return Promise.all(
    Array.from(
      { length: conns },
      () =>
        new Promise<void>((resolve, reject) => {
          const s = netConnect(socket);
          const dec = new FrameDecoder(MAX_REPLY_FRAME);
          let got = 0;
          s.on('error', reject);
          s.on('connect', () => s.write(Buffer.concat(Array.from({ length: perConn }, (_, i) => encodeFrame({ id: i + 1, op: 'status', args: {} })))));
          s.on('data', (d: Buffer) => {
            got += dec.push(d).length;
            if (got >= perConn) {
              s.destroy();
              resolve();
            }
          });
        }),
    ),
  ).then(() => undefined);
}

export async function benchControlLoad(): Promise<ControlLoadResult> {
  const pair = await startBenchPair();
  const socket = homePaths(pair.home).socket;
  try {
    const p = await measured(socket, () => statusFlood(socket, 20_000, 1));
    const c = await measured(socket, () => statusFlood(socket, 1, 500));
    const f = await measured(socket, () => fuzzFrames(pair.home, { frames: 5000 }));
    const { framesSent, errorsAnswered, connectionsCut, rssBefore, rssAfter } = f.out;
    return {
      pipelined: { ms: p.ms, maxLoopDelayMs: p.maxLoopDelayMs, takeover: p.takeover, requests: 20_000 },
      connections: { ms: c.ms, maxLoopDelayMs: c.maxLoopDelayMs, takeover: c.takeover, count: 500 },
      fuzz: { ms: f.ms, maxLoopDelayMs: f.maxLoopDelayMs, takeover: f.takeover, framesSent, errorsAnswered, connectionsCut, rssBefore, rssAfter },
    };
  } finally {
    await pair.close();
  }
}
