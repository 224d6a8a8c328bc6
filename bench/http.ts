// The HTTP listener's cost (`ham start --http`): the HAM's memory with it off
// (its modules are not even loaded) and on, and how long a /metrics scrape and
// a /api/status take at N entities (as a client sees it, over loopback).
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPair, stopPair } from '../src/cli/daemon.js';
import { Connection } from '../src/client/connection.js';
import { homePaths } from '../src/model/home-paths.js';
import { memKiB } from '../src/proc/procfs.js';
import { killAll, median, nowMs, quantile, sleep } from './lib.js';

export interface HttpBenchResult {
  entities: number;
  /** The HAM's PSS (KiB) without --http, with it before any request, and after the scrapes. */
  hamPssOffKiB: number;
  hamPssOnKiB: number;
  hamPssAfterScrapesKiB: number;
  metricsMs: { p50: number; p90: number };
  metricsBytes: number;
  statusMs: { p50: number; p90: number };
}

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

function get(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`${path}: ${res.statusCode}`))));
    })
      .on('error', reject)
      .end();
  });
}

async function pairWith(entities: number, http?: string): Promise<{ home: string; ham: number; close: () => Promise<void> }> {
  const home = mkdtempSync(join(tmpdir(), 'ham-bench-http-'));
  const { status } = await startPair(home, { http });
  const c = await Connection.open(homePaths(home).socket, 2000);
  try {
    for (let i = 0; i < entities; i++) await c.request('attach', { name: `svc${i}`, argv: ['sleep', '1000000'], restart: true } as never);
  } finally {
    c.close();
  }
  return {
    home,
    ham: status.ham.pid!,
    close: async () => {
      await stopPair(home, true).catch(() => undefined);
      killAll(home);
      rmSync(home, { recursive: true, force: true });
    },
  };
}

const timed = async (n: number, fn: () => Promise<unknown>): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = nowMs();
    await fn();
    out.push(nowMs() - t0);
    await sleep(1100); // past the listener's status reuse: each one is assembled
  }
  return out;
};

export async function benchHttp(entities: number, scrapes: number): Promise<HttpBenchResult> {
  const off = await pairWith(entities);
  let hamPssOffKiB: number;
  try {
    await sleep(3000);
    hamPssOffKiB = memKiB(off.ham, 'smaps_rollup', 'Pss');
  } finally {
    await off.close();
  }
  const port = await freePort();
  const on = await pairWith(entities, `127.0.0.1:${port}`);
  try {
    await sleep(3000);
    const hamPssOnKiB = memKiB(on.ham, 'smaps_rollup', 'Pss');
    const page = await get(port, '/metrics');
    const m = await timed(scrapes, () => get(port, '/metrics'));
    const s = await timed(scrapes, () => get(port, '/api/status'));
    return {
      entities,
      hamPssOffKiB,
      hamPssOnKiB,
      hamPssAfterScrapesKiB: memKiB(on.ham, 'smaps_rollup', 'Pss'),
      metricsMs: { p50: median(m), p90: quantile(m, 0.9) },
      metricsBytes: Buffer.byteLength(page),
      statusMs: { p50: median(s), p90: quantile(s, 0.9) },
    };
  } finally {
    await on.close();
  }
}

// `node dist/bench/http.js [ENTITIES] [SCRAPES]`: run alone.
if (process.argv[1]?.endsWith('/bench/http.js')) {
  void benchHttp(Number(process.argv[2] ?? 100), Number(process.argv[3] ?? 10)).then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`));
}
