// The usage columns of `ham status` and `ham top`: the unit formats, CPU %
// between two samples, and /proc read for this very process (no daemon needed).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cpuPercent, formatBytes, formatCpu, formatDuration, type Sample } from '../../src/cli/usage.js';
import { pageSize, procUsage } from '../../src/proc/usage.js';

describe('usage: units and /proc', () => {
  it('formats durations, CPU time and sizes readably', () => {
    expect([0, 45_000, 723_000, 11_040_000, 190_800_000].map(formatDuration)).toEqual(['0s', '45s', '12m03s', '3h04m', '2d05h']);
    expect(formatDuration(null)).toBe('-');
    expect([420, 59_990, 61_000].map(formatCpu)).toEqual(['0.42s', '59.99s', '1m01s']);
    expect([512, 4096, 12.3 * 2 ** 20, 300 * 2 ** 20, 1.5 * 2 ** 30].map(formatBytes)).toEqual(['512B', '4.00K', '12.3M', '300M', '1.50G']);
    expect(formatBytes(null)).toBe('-');
  });

  it('reads this process: its RSS as /proc/PID/status says, its CPU time growing', () => {
    expect(Math.log2(pageSize()) % 1).toBe(0);
    const a = procUsage(process.pid)!;
    const vmRss = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))![1]) * 1024;
    expect(a.rssBytes).toBeGreaterThan(vmRss / 2);
    expect(a.rssBytes).toBeLessThan(vmRss * 2);
    const until = process.cpuUsage().user + 50_000; // spin 50 ms of CPU
    while (process.cpuUsage().user < until);
    const b = procUsage(process.pid)!;
    expect(b.startTicks).toBe(a.startTicks);
    expect(b.cpuTicks).toBeGreaterThan(a.cpuTicks);
    expect(procUsage(2 ** 22 + 1)).toBeUndefined();
  });

  it('CPU % only between two samples of the same process', () => {
    const s = (atMs: number, cpuTicks: number, startTicks = 7): Sample => ({ atMs, procs: new Map([[9, { startTicks, cpuTicks, rssBytes: 1 }]]) });
    expect(cpuPercent(9, s(1000, 10), s(2000, 60))).toBe(50);
    expect(cpuPercent(9, undefined, s(2000, 60))).toBeUndefined();
    expect(cpuPercent(9, s(1000, 10, 6), s(2000, 60))).toBeUndefined(); // a new process on the same pid
    expect(cpuPercent(null, s(1000, 10), s(2000, 60))).toBeUndefined();
  });
});
