// Where a process's memory goes, and its CPU time to the nanosecond: read
// from /proc for the memory and footprint benchmarks.
import { readdirSync, readFileSync } from 'node:fs';

/** PSS in KiB by kind of mapping. */
export interface PssParts {
  /** Anonymous memory: the V8 heap, malloc's arenas, buffers. */
  heap: number;
  /** Mapped files other than the store: the node binary, shared libraries, native addons. */
  code: number;
  /** The LMDB store's map (its pages count only once touched). */
  lmdb: number;
  /** Stacks, vdso and the rest. */
  other: number;
  total: number;
}

export const noParts = (): PssParts => ({ heap: 0, code: 0, lmdb: 0, other: 0, total: 0 });

const MAPPING = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/;

export function pssParts(pid: number): PssParts {
  const out = noParts();
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out; // gone
  }
  let kind: keyof Omit<PssParts, 'total'> = 'other';
  for (const line of text.split('\n')) {
    const m = MAPPING.exec(line);
    if (m) {
      const name = m[1]!;
      kind = /\.mdb$|\.mdb-lock$/.test(name)
        ? 'lmdb'
        : name.startsWith('/')
          ? 'code'
          : name === '' || name === '[heap]' || name.startsWith('[anon')
            ? 'heap'
            : 'other';
    } else if (line.startsWith('Pss:')) {
      const kib = Number(line.split(/\s+/)[1]);
      out[kind] += kib;
      out.total += kib;
    }
  }
  return out;
}

export function addParts(a: PssParts, b: PssParts): PssParts {
  return { heap: a.heap + b.heap, code: a.code + b.code, lmdb: a.lmdb + b.lmdb, other: a.other + b.other, total: a.total + b.total };
}

/** CPU time of all of a process's threads, in ns (schedstat: exact where clock ticks round to 10 ms). */
export function cpuNs(pid: number): number {
  let n = 0;
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      try {
        n += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        /* thread gone */
      }
    }
  } catch {
    /* process gone */
  }
  return n;
}

export const sumCpuNs = (pids: number[]): number => pids.reduce((n, p) => n + cpuNs(p), 0);

/**
 * Wait until `pids` are at rest: `windows` windows of `windowMs` in a row, in each of which they
 * used under `maxNs` of CPU (V8 shrinks the heap in a few GCs some seconds after activity; idle
 * means after those). Gives up after `deadlineMs`; returns how long it waited.
 */
export async function settle(pids: number[], windowMs: number, maxNs: number, deadlineMs: number, windows = 1): Promise<number> {
  const t0 = performance.now();
  for (let quiet = 0; quiet < windows && performance.now() - t0 < deadlineMs;) {
    const before = sumCpuNs(pids);
    await new Promise((r) => setTimeout(r, windowMs));
    quiet = sumCpuNs(pids) - before < maxNs ? quiet + 1 : 0;
  }
  return performance.now() - t0;
}
