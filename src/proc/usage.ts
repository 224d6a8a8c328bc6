// What a process uses, from /proc: one read of /proc/PID/stat per process
// (its start time, CPU times and resident pages: field 24 is what statm calls
// resident), into one reused buffer, so `ham status` and `ham top` can afford
// it for 10,000 entities. Readable for any user's process. The main pid only:
// a group would mean a scan of all of /proc per call.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

/** The kernel reports stat times in USER_HZ, which is 100 on every Linux userland ABI. */
export const TICKS_PER_SECOND = 100;

export interface ProcUsage {
  /** Start time, in ticks since boot (with the pid, it names the process). */
  startTicks: number;
  /** User + system CPU time, in ticks. */
  cpuTicks: number;
  rssBytes: number;
}

let pageBytes: number | undefined;

/** The page size (statm counts pages): the first mapping's KernelPageSize, else 4 KiB. */
export function pageSize(): number {
  if (pageBytes !== undefined) return pageBytes;
  pageBytes = 4096;
  try {
    const fd = openSync('/proc/self/smaps', 'r');
    try {
      const buf = Buffer.alloc(4096);
      const n = readSync(fd, buf, 0, buf.length, 0);
      const kb = /KernelPageSize:\s+(\d+) kB/.exec(buf.toString('latin1', 0, n))?.[1];
      if (kb) pageBytes = Number(kb) * 1024;
    } finally {
      closeSync(fd);
    }
  } catch {
    /* no smaps: keep 4 KiB */
  }
  return pageBytes;
}

/** Seconds since boot (/proc/uptime), as ms. */
export function bootUptimeMs(): number {
  try {
    return Math.round(Number(readFileSync('/proc/uptime', 'latin1').split(' ')[0]) * 1000);
  } catch {
    return 0;
  }
}

const buf = Buffer.alloc(1024); // a stat line is ~300 bytes; comm is at most 64

/** A live (not zombie) process's usage, or undefined if it is gone. */
export function procUsage(pid: number): ProcUsage | undefined {
  let stat: string;
  try {
    const fd = openSync(`/proc/${pid}/stat`, 'r');
    try {
      stat = buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0));
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: the fields start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (f[0] === 'Z' || f[0] === 'X' || f.length < 22) return undefined;
  return {
    startTicks: Number(f[19]),
    cpuTicks: Number(f[11]) + Number(f[12]),
    rssBytes: Number(f[21]) * pageSize(),
  };
}
