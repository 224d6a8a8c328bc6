// Uptime, CPU time and memory of each running entity, read by the CLI from
// /proc (launch.ts) from the pids in the status: the HAM's loop does no
// extra work, and only entities with a live pid cost a read.
import type { EntityView, StatusView } from '../protocol/views.js';
import { bootUptimeMs, procUsage, TICKS_PER_SECOND, type ProcUsage } from './launch.js';

const MS_PER_TICK = 1000 / TICKS_PER_SECOND;

/** The fields `status --json` adds per entity: null when it is not running (or its process is gone). */
export interface Usage {
  uptimeMs: number | null;
  cpuMs: number | null;
  rssBytes: number | null;
}

export type EntityWithUsage = EntityView & Usage;

const NONE: Usage = { uptimeMs: null, cpuMs: null, rssBytes: null };

/** One sample: the process behind each pid, and when it was read. */
export interface Sample {
  atMs: number;
  procs: Map<number, ProcUsage>;
}

/** Whose process is read: running (or starting) ones; a pid kept past a death may be another process by now. */
const live = (e: EntityView): boolean => e.pid !== null && e.pid > 0 && (e.state === 'running' || e.state === 'starting');

/** Read /proc for every running entity (one stat read each). */
export function sample(entities: readonly EntityView[]): Sample {
  const procs = new Map<number, ProcUsage>();
  for (const e of entities) {
    const pid = e.pid!;
    if (!live(e) || procs.has(pid)) continue;
    const u = procUsage(pid);
    if (u) procs.set(pid, u);
  }
  return { atMs: bootUptimeMs(), procs };
}

export function usageOf(e: EntityView, s: Sample): Usage {
  const u = live(e) ? s.procs.get(e.pid!) : undefined;
  if (!u) return NONE;
  return { uptimeMs: Math.max(0, s.atMs - u.startTicks * MS_PER_TICK), cpuMs: u.cpuTicks * MS_PER_TICK, rssBytes: u.rssBytes };
}

/** The status with `uptimeMs`, `cpuMs` and `rssBytes` on each entity. */
export function withUsage<S extends StatusView>(s: S, taken: Sample = sample(s.entities)): S & { entities: EntityWithUsage[] } {
  return { ...s, entities: s.entities.map((e) => ({ ...e, ...usageOf(e, taken) })) };
}

/**
 * CPU use between two samples, as a percentage of one core; undefined when
 * the process is not in both (a restart gives a new pid or start time).
 */
export function cpuPercent(pid: number | null, before: Sample | undefined, now: Sample): number | undefined {
  if (pid === null || !before) return undefined;
  const a = before.procs.get(pid);
  const b = now.procs.get(pid);
  const wall = now.atMs - before.atMs;
  if (!a || !b || a.startTicks !== b.startTicks || wall <= 0) return undefined;
  return ((b.cpuTicks - a.cpuTicks) * MS_PER_TICK * 100) / wall;
}

/** 45s, 12m03s, 3h04m, 2d05h: the two largest units. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86_400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

/** CPU time: 0.42s below a minute, else as a duration. */
export function formatCpu(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 60_000 ? `${(ms / 1000).toFixed(2)}s` : formatDuration(ms);
}

/** 812K, 12.3M, 1.02G (binary units, as ps and top). */
export function formatBytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v}B` : `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}

/** The UPTIME, CPU and RSS cells of `ham status` ('-' where not read). */
export function usageCells(e: Partial<Usage>): string[] {
  return [formatDuration(e.uptimeMs ?? null), formatCpu(e.cpuMs ?? null), formatBytes(e.rssBytes ?? null)];
}
