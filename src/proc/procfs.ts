// Process identity from /proc: a pid alone can be reused, pid + start time
// (clock ticks since boot, field 22 of /proc/PID/stat) cannot.
import { readFileSync, readdirSync } from 'node:fs';
import type { ProcId } from '../model/records.js';

export type { ProcId };

interface StatLine {
  state: string;
  ppid: number;
  start: number;
  /** User + system CPU time, in clock ticks. */
  cpuTicks: number;
}

function readStat(pid: number): StatLine | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = rest[0] ?? '?';
  return { state, ppid: Number(rest[1]), start: Number(rest[19]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/** CPU time a process used so far, in clock ticks (0 if it is gone). */
export function cpuTicks(pid: number): number {
  return readStat(pid)?.cpuTicks ?? 0;
}

/** A `Key: N kB` field of /proc/PID/status or smaps_rollup (VmRSS, Pss), in KiB; 0 if gone. */
export function memKiB(pid: number, file: 'status' | 'smaps_rollup', key: string): number {
  try {
    return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The start time of a live process, or undefined if it is gone or a zombie. */
export function startTime(pid: number): number | undefined {
  const s = readStat(pid);
  if (!s || s.state === 'Z' || s.state === 'X') return undefined;
  return s.start;
}

export function procId(pid: number): ProcId | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : { pid, start };
}

/** Is this exact process (not a reuse of its pid) alive and not a zombie? */
export function isAlive(id: ProcId | null | undefined): boolean {
  if (!id || !(id.pid > 0)) return false;
  return startTime(id.pid) === id.start;
}

/**
 * SIGKILL this exact process if it is alive. It may die between the check and the kill (a HAM
 * SIGKILLed by someone else and reaped meanwhile): ESRCH then means done, never an exception.
 */
export function killIfAlive(id: ProcId | null | undefined): void {
  if (!id || !isAlive(id)) return;
  try {
    process.kill(id.pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

export function isStopped(pid: number): boolean {
  const s = readStat(pid);
  return s?.state === 'T' || s?.state === 't';
}

export function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1')
      .split('\0')
      .filter((s) => s.length > 0);
  } catch {
    return [];
  }
}

/** Live (non-zombie) pids whose command line satisfies the predicate. */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    if (startTime(pid) === undefined) continue;
    const argv = cmdline(pid);
    if (argv.length > 0 && match(argv)) found.push(pid);
  }
  return found;
}

/** Live processes whose parent is one of `parents`. */
export function childrenOf(parents: Set<number>): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const s = readStat(pid);
    if (s && s.state !== 'Z' && parents.has(s.ppid)) found.push(pid);
  }
  return found;
}

/** Send a signal to exactly this process; false if it was already gone. */
export function signalProc(id: ProcId, signal: NodeJS.Signals | number): boolean {
  if (!isAlive(id)) return false;
  try {
    process.kill(id.pid, signal);
    return true;
  } catch {
    return false;
  }
}
