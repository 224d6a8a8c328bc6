// `limits:` of an entity (runas-schema.ts): what a value may be,
// and whether this HAM can set it: the keeper inherits the HAM's hard limits,
// which only root may raise (and then only to the kernel's own bounds).
import { readFileSync } from 'node:fs';
import type { LimitName, LimitValue } from '../model/runas.js';

type Limit = { soft: LimitValue; hard: LimitValue };

/** /proc/PID/limits rows by our names. */
const ROWS: Record<string, LimitName> = {
  'Max cpu time': 'cpu',
  'Max file size': 'fsize',
  'Max data size': 'data',
  'Max stack size': 'stack',
  'Max core file size': 'core',
  'Max resident set': 'rss',
  'Max processes': 'nproc',
  'Max open files': 'nofile',
  'Max locked memory': 'memlock',
  'Max address space': 'as',
  'Max file locks': 'locks',
  'Max pending signals': 'sigpending',
  'Max msgqueue size': 'msgqueue',
  'Max nice priority': 'nice',
  'Max realtime priority': 'rtprio',
  'Max realtime timeout': 'rttime',
};

const value = (s: string): LimitValue => (s === 'unlimited' ? 'unlimited' : Number(s));

/** The limits of process `pid` (default: this one), as /proc says them. */
export function procLimits(pid: number | 'self' = 'self'): Partial<Record<LimitName, Limit>> {
  const out: Partial<Record<LimitName, Limit>> = {};
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/limits`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    const name = m && ROWS[m[1]!];
    if (name) out[name] = { soft: value(m[2]!), hard: value(m[3]!) };
  }
  return out;
}
export const hamLimits = (): Partial<Record<LimitName, Limit>> => procLimits('self');

const MAX = 2 ** 63; // beyond any rlim_t a number here can name exactly
const num = (v: unknown): LimitValue | undefined =>
  v === 'unlimited' || v === 'infinity' ? 'unlimited' : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < MAX ? v : undefined;
const above = (a: LimitValue, b: LimitValue): boolean => (a === 'unlimited' ? b !== 'unlimited' : b !== 'unlimited' && a > b);

/** One limit's value: N (soft and hard), "unlimited", or { soft, hard }; a string says what was expected. */
export function parseLimit(raw: unknown): Limit | string {
  const one = num(raw);
  if (one !== undefined) return { soft: one, hard: one };
  const expected = 'expected a whole number ≥ 0, "unlimited", or { soft, hard } of those';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return expected;
  const o = raw as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'soft' && k !== 'hard');
  if (extra.length) return `${expected} (unexpected ${extra.join(', ')})`;
  const soft = num(o.soft);
  const hard = num(o.hard);
  if (soft === undefined || hard === undefined) return expected;
  if (above(soft, hard)) return 'expected soft ≤ hard';
  return { soft, hard };
}

/** Why `v` cannot be set for `name` by a keeper with the HAM's limits `have`, or undefined. */
export function limitProblem(name: LimitName, v: Limit, have: Partial<Record<LimitName, Limit>>, root: boolean): { expected: string; got: string } | undefined {
  const hard = have[name]?.hard;
  const text = (l: Limit): string => (l.soft === l.hard ? String(l.soft) : `soft ${l.soft}, hard ${l.hard}`);
  if (!root && hard !== undefined && above(v.hard, hard))
    return { expected: `expected at most the HAM's hard limit (${hard}): only root (with CAP_SYS_RESOURCE) may raise it`, got: text(v) };
  if (name === 'nofile') {
    // The kernel's bound on any process's open files, root's too (setrlimit fails with EPERM above it).
    let nrOpen = 1_048_576;
    try {
      nrOpen = Number(readFileSync('/proc/sys/fs/nr_open', 'utf8').trim()) || nrOpen;
    } catch {
      /* the kernel's default */
    }
    if (above(v.hard, nrOpen)) return { expected: `expected at most ${nrOpen} open files (the kernel's bound, /proc/sys/fs/nr_open)`, got: text(v) };
  }
  return undefined;
}
