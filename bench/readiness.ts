// Readiness: how long after a port starts listening the HAM calls its entity
// ready (against the probe interval: a probe lands uniformly within one, so
// half of it is the expected wait), and what probing costs the HAM's CPU
// while N entities are not ready yet, and once they are (nothing: probing stops).
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { homePaths } from '../src/home.js';
import { nowMs, requestOnce, sleep, startBenchPair } from './lib.js';
import { cpuNs } from './smaps.js';

/** Listens on PORT once FLAG exists; FLAG.listening's mtime is when it did. */
const TCP = `
const net = require('net'), fs = require('fs');
const [port, flag] = process.argv.slice(1);
const wait = () => (fs.existsSync(flag) ? net.createServer((c) => c.destroy()).listen(+port, '127.0.0.1', () => fs.writeFileSync(flag + '.listening', '')) : setTimeout(wait, 2));
wait();
`;

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface ReadinessBench {
  intervalMs: number;
  /** Listening → status says ready, per sample (ms; status polled every 2 ms). */
  latencyMs: number[];
  entities: number;
  /** HAM CPU per second of wall time while `entities` are probed (refused), and once all are ready. */
  probingCpuMsPerS: number;
  readyCpuMsPerS: number;
}

export async function benchReadiness(samples = 10, entities = 50, intervalMs = 50, windowMs = 3000): Promise<ReadinessBench> {
  const pair = await startBenchPair();
  const socket = homePaths(pair.home).socket;
  const apply = (config: object): Promise<unknown> => requestOnce(socket, 'apply', { config: { ...config, baseDir: pair.home } });
  const flag = (i: number | string): string => join(pair.home, `flag-${i}`);
  try {
    const latencyMs: number[] = [];
    const ports = await freePorts(samples + entities);
    for (let i = 0; i < samples; i++) {
      const name = `one${i}`;
      await apply({
        entities: { [name]: { command: ['node', '-e', TCP, String(ports[i]), flag(i)], readiness: { tcp: ports[i], intervalMs, timeoutMs: 60_000 } } },
      });
      while (!(await pair.status()).entities.some((e) => e.name === name && e.pid !== null)) await sleep(10);
      await sleep(intervalMs * 2); // probed a few times, refused: the next probe lands anywhere in an interval
      writeFileSync(flag(i), '');
      while (!(await pair.status()).entities.find((e) => e.name === name)?.ready) await sleep(2);
      const seen = nowMs();
      // Its marker is written in the listen callback: a probe may connect (the kernel accepts) before it is there.
      while (!existsSync(`${flag(i)}.listening`)) await sleep(1);
      const listening = statSync(`${flag(i)}.listening`).mtimeMs;
      latencyMs.push(seen - listening);
    }
    const many: Record<string, object> = {};
    for (let i = 0; i < entities; i++) {
      const port = ports[samples + i];
      many[`many${i}`] = { command: ['node', '-e', TCP, String(port), flag('many')], readiness: { tcp: port, intervalMs, timeoutMs: 600_000 } };
    }
    await apply({ entities: many });
    while ((await pair.status()).entities.filter((e) => e.name.startsWith('many') && e.pid !== null).length < entities) await sleep(50);
    const ham = (await pair.status()).ham.pid!;
    const cpuPerS = async (): Promise<number> => {
      const c0 = cpuNs(ham);
      const t0 = nowMs();
      await sleep(windowMs);
      return (cpuNs(ham) - c0) / 1e6 / ((nowMs() - t0) / 1000);
    };
    const probingCpuMsPerS = await cpuPerS();
    writeFileSync(flag('many'), '');
    while ((await pair.status()).entities.some((e) => e.name.startsWith('many') && !e.ready)) await sleep(50);
    if (!existsSync(`${flag('many')}.listening`)) throw new Error('the servers did not listen');
    await sleep(500); // the last status requests settle
    const readyCpuMsPerS = await cpuPerS();
    return { intervalMs, latencyMs, entities, probingCpuMsPerS, readyCpuMsPerS };
  } finally {
    await pair.close();
  }
}
