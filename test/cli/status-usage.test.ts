// Uptime, CPU time and RSS per entity in `ham status` (and --json), on a real pair.
import { readFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CALM, ham, hamJson, sleeper, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { entity } from '../helpers/entities.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

interface Used {
  name: string;
  pid: number | null;
  uptimeMs: number | null;
  cpuMs: number | null;
  rssBytes: number | null;
}

// Busy a fifth of the time (not a whole core: the machine is shared), so its CPU time grows by ticks.
const spinner = (marker: string): string[] => ['perl', '-e', 'for (;;) { for (1 .. 2e6) {} select(undef, undef, undef, 0.1) }', marker];
const vmRssBytes = (pid: number): number => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024;

describe('usage in ham status', () => {
  it('status --json gives uptimeMs, cpuMs and rssBytes of running entities, null for the rest', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'busy', '--', ...spinner(`${t.home}-busy`)]);
    await hamJson(t.home, ['attach', 'calm', '--', ...sleeper(`${t.home}-calm`)]);
    await hamJson(t.home, ['attach', 'spot']);
    const get = async (): Promise<Map<string, Used>> => new Map((await hamJson<{ entities: Used[] }>(t.home, ['status'])).entities.map((e) => [e.name, e]));
    const first = await get();
    const busy = first.get('busy')!;
    expect(busy.uptimeMs).toBeGreaterThanOrEqual(0);
    expect(busy.rssBytes).toBeGreaterThan(vmRssBytes(busy.pid!) / 2);
    expect(busy.rssBytes).toBeLessThan(vmRssBytes(busy.pid!) * 2);
    expect(first.get('spot')).toMatchObject({ uptimeMs: null, cpuMs: null, rssBytes: null });
    // Time passes and the busy one uses CPU: both grow.
    await waitFor('busy to have used CPU and grown older', async () => {
      const b = (await get()).get('busy')!;
      return b.cpuMs! > busy.cpuMs! && b.uptimeMs! > busy.uptimeMs!;
    });
    // Dead: nothing to read.
    process.kill(first.get('calm')!.pid!, 'SIGKILL');
    await waitStatus(t.home, 'calm dead', (s) => entity(s, 'calm').state === 'dead');
    expect((await get()).get('calm')).toMatchObject({ uptimeMs: null, cpuMs: null, rssBytes: null });

    const text = await ham(t.home, ['status']);
    expect(text.stdout).toMatch(/NAME\s+KIND\s+STATE\s+PID\s+UPTIME\s+CPU\s+RSS\s+RESTARTS/);
    expect(text.stdout).toMatch(/\nbusy\s+spawned\s+running\s+\d+\s+\d+(s|m\d\ds)\s+[\d.]+s\s+[\d.]+[KM]\s+0\s/);
    expect((await ham(t.home, ['status', 'busy'])).stdout).toMatch(/uptime, cpu, rss:\s+\d+s, [\d.]+s, [\d.]+[KM]/);
  });
});
