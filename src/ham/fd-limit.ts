// Open files: the HAM holds each keeper's life FIFO open (its death is EOF
// there), so it needs a descriptor per entity beyond its own. Node raises the
// soft RLIMIT_NOFILE to the hard one as it starts; past the hard limit only
// the operator can help (ulimit -Hn, systemd's LimitNOFILE=), and status says so.
import { readFileSync } from 'node:fs';

/** Descriptors the HAM uses besides the life FIFOs: the store, logs, clients, the watch, the runner. */
export const FDS_RESERVED = 256;

export interface FdLimit {
  soft: number;
  hard: number;
}

/** This process's RLIMIT_NOFILE (from /proc: Node has no getrlimit); Infinity for unlimited. */
export function fdLimit(limits = '/proc/self/limits'): FdLimit | undefined {
  try {
    const line = readFileSync(limits, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const m = line && /^Max open files\s+(\S+)\s+(\S+)/.exec(line);
    if (!m) return undefined;
    const n = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
    return { soft: n(m[1]!), hard: n(m[2]!) };
  } catch {
    return undefined;
  }
}

/** Descriptors `entities` need (one life FIFO each, plus the reserve). */
export const fdsNeeded = (entities: number): number => entities + FDS_RESERVED;

/** The limit read once: Node set it before any of this ran, and nothing here changes it. */
let cached: FdLimit | undefined | null = null;
export function ownFdLimit(): FdLimit | undefined {
  if (cached === null) cached = fdLimit();
  return cached;
}

/** What status shows: the limit and what the attached entities need. */
export function openFilesView(entities: number): { limit: number; needed: number } | undefined {
  const l = ownFdLimit();
  return l && Number.isFinite(l.soft) ? { limit: l.soft, needed: fdsNeeded(entities) } : undefined;
}
