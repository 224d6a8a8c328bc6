// What `ham status` and `ham top` pay for uptime, CPU and RSS: one
// /proc/PID/stat read per running entity, in the CLI. Measured for a view of
// 10,000 running entities (their pids cycle over real sleeping processes
// started here), next to the bare limit: readFileSync of the same files.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { sample } from '../src/cli/usage.js';
import type { EntityView } from '../src/protocol/views.js';
import { median } from './lib.js';

export interface StatusUsageBench {
  entities: number;
  /** sample() of the whole view, ms, per run. */
  sampleMs: number[];
  /** readFileSync of each entity's /proc/PID/stat, ms, per run. */
  bareMs: number[];
}

export async function benchStatusUsage(entities = 10_000, processes = 200, runs = 5): Promise<StatusUsageBench> {
  const kids = Array.from({ length: processes }, () => spawn('sleep', ['600'], { stdio: 'ignore' }));
  try {
    await new Promise((r) => setTimeout(r, 200));
    const pids = kids.map((k) => k.pid!);
    // Distinct pids per entity matter only for the map: the cost is the reads, so count those without dedup.
    const view = (i: number): EntityView[] =>
      Array.from({ length: processes }, (_, j) => ({ pid: pids[j], name: `e${i}-${j}`, state: 'running' }) as EntityView);
    const sampleMs: number[] = [];
    const bareMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t = performance.now();
      for (let i = 0; i < entities / processes; i++) sample(view(i));
      sampleMs.push(performance.now() - t);
      t = performance.now();
      for (let i = 0; i < entities; i++) readFileSync(`/proc/${pids[i % processes]}/stat`, 'latin1');
      bareMs.push(performance.now() - t);
    }
    return { entities, sampleMs, bareMs };
  } finally {
    for (const k of kids) k.kill('SIGKILL');
  }
}

if (process.argv[1]?.endsWith('status-usage.js')) {
  const b = await benchStatusUsage();
  process.stdout.write(
    `usage of ${b.entities} running entities: ${median(b.sampleMs).toFixed(0)} ms (readFileSync of their stat files: ${median(b.bareMs).toFixed(0)} ms)\n`,
  );
}
