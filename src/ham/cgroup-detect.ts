// Where an entity's cgroup can go (README "cgroups"), from the text of
// /proc/self/mountinfo, /proc/self/cgroup and the pair's cgroup.controllers:
// pure functions, so a unified host, a hybrid one (v1 controllers beside a
// v2 mount that has few or none of them) and a v1-only one are all unit-tested.
import { posix } from 'node:path';
import type { CgroupLimits } from '../model/runas.js';

/** The cgroup limits an entity may ask for, and the controller each needs. */
export const CGROUP_LIMITS = { memoryMax: 'memory', cpuMax: 'cpu', pidsMax: 'pids' } as const;
export type CgroupLimitName = keyof typeof CGROUP_LIMITS;

/** The leaf the pair's own processes move to when its cgroup may not hold processes (no-internal-processes rule). */
export const PAIR_LEAF = 'ham-pair';

export interface Mounts {
  /** The cgroup2 mount: where it is, and which cgroup of the hierarchy it shows (its root: "/" but in a namespace). */
  v2: { point: string; root: string } | null;
  /** Each v1 controller and where its hierarchy is mounted. */
  v1: Record<string, string>;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
const unescape = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The cgroup mounts in /proc/self/mountinfo's text. */
export function parseMountinfo(text: string): Mounts {
  const out: Mounts = { v2: null, v1: {} };
  for (const line of text.split('\n')) {
    const dash = line.indexOf(' - ');
    if (dash < 0) continue;
    const f = line.slice(0, dash).split(' ');
    const [type, , superOpts = ''] = line.slice(dash + 3).split(' ');
    if (f.length < 5) continue;
    const root = unescape(f[3]!);
    const point = unescape(f[4]!);
    if (type === 'cgroup2') {
      if (!out.v2) out.v2 = { point, root };
    } else if (type === 'cgroup') {
      for (const opt of superOpts.split(',')) if (!['rw', 'ro'].includes(opt) && !opt.includes('=') && !(opt in out.v1)) out.v1[opt] = point;
    }
  }
  return out;
}

/** The unified hierarchy's cgroup in /proc/self/cgroup's text (its `0::` line), or null. */
export function parseProcCgroup(text: string): string | null {
  for (const line of text.split('\n')) if (line.startsWith('0::')) return line.slice(3);
  return null;
}

/** Short hash of the home: its folder's name under BASE. */
export type HomeTag = string;
export const homeDirName = (tag: HomeTag): string => `ham-${tag}`;

/**
 * The pair's BASE: its own cgroup's directory under the mount, or, when the pair was moved into
 * BASE/ham-TAG/ham-pair by an earlier HAM of this home, that cgroup's grandparent. A string: why not.
 */
export function baseDir(v2: NonNullable<Mounts['v2']>, own: string, tag: HomeTag): string | { why: string } {
  const root = v2.root === '/' ? '' : v2.root;
  if (own !== root && !own.startsWith(`${root}/`))
    return { why: `the pair's cgroup ${own} is outside what the cgroup2 mount at ${v2.point} shows (${v2.root})` };
  const rel = own.slice(root.length).replace(/\/+$/, '');
  let dir = rel ? posix.join(v2.point, rel) : v2.point;
  const moved = `/${homeDirName(tag)}/${PAIR_LEAF}`;
  if (dir.endsWith(moved)) dir = dir.slice(0, -moved.length) || '/';
  return dir;
}

/** Facts of one machine, read by cgroups.ts. */
export interface CgroupFacts {
  mounts: Mounts;
  /** BASE, or why there is none (no 0:: line, outside the mount). */
  base: string | { why: string } | null;
  /** BASE/cgroup.controllers: what its children may be given. */
  controllers: string[];
  /** Why BASE is not ours to write (cgroup.procs, cgroup.subtree_control, mkdir), or null: delegated. */
  notDelegated: string | null;
}

export type CgroupProblem = { limit?: CgroupLimitName; expected: string; got: string };

/** Why `limits` cannot be honoured on a machine with `facts`; empty: they can. Nothing asked of a controller that is not named. */
export function cgroupProblems(facts: CgroupFacts, limits: CgroupLimits): CgroupProblem[] {
  const v1List = Object.keys(facts.mounts.v1);
  if (!facts.mounts.v2)
    return [
      {
        expected: 'expected a cgroup2 (unified hierarchy) mount, at /sys/fs/cgroup or /sys/fs/cgroup/unified; use limits: (setrlimit) instead',
        got: v1List.length ? `only cgroup v1 here (${v1List.join(', ')})` : 'no cgroup mount here',
      },
    ];
  if (facts.base === null) return [{ expected: "expected the pair's cgroup2 cgroup (a 0:: line in /proc/self/cgroup)", got: 'none' }];
  if (typeof facts.base !== 'string') return [{ expected: "expected the pair's cgroup under the cgroup2 mount", got: facts.base.why }];
  if (facts.notDelegated)
    return [
      {
        expected: `expected the pair's cgroup ${facts.base} delegated to it: run the pair from a systemd unit with Delegate=yes (ham startup writes one), or chown its cgroup.procs, cgroup.subtree_control and folder to the HAM's user`,
        got: facts.notDelegated,
      },
    ];
  const out: CgroupProblem[] = [];
  for (const [limit, ctl] of Object.entries(CGROUP_LIMITS) as [CgroupLimitName, string][]) {
    if (limits[limit] === undefined || facts.controllers.includes(ctl)) continue;
    const v1 = facts.mounts.v1[ctl];
    out.push({
      limit,
      expected: `expected the ${ctl} controller on cgroup v2 (in ${posix.join(facts.base, 'cgroup.controllers')}) for ${limit}; use limits: (setrlimit) instead`,
      got: v1
        ? `${ctl} is bound to cgroup v1 here (mounted at ${v1})`
        : `${ctl} is not offered to the pair's cgroup (its cgroup.controllers: ${facts.controllers.join(' ') || 'none'})`,
    });
  }
  return out;
}

/** pids.max's ceiling (the kernel's PID_MAX_LIMIT on 64-bit; it refuses more). */
export const PIDS_MAX_LIMIT = 4194304;
/** cpu.max's period bounds and least quota, in µs (the kernel refuses others). */
export const CPU_PERIOD = { min: 1000, max: 1_000_000 } as const;

const whole = (s: string, max: number): number | null => (/^\d{1,16}$/.test(s) && Number(s) <= max ? Number(s) : null);

/** Why `v` is no value for `limit` the kernel takes (what is expected), or null: it is one. */
export function limitValueProblem(limit: CgroupLimitName, v: unknown): string | null {
  const max = Number.MAX_SAFE_INTEGER;
  if (limit === 'cpuMax') {
    const want = `expected "QUOTA PERIOD" in microseconds (QUOTA an integer ${CPU_PERIOD.min}..${max} or "max", PERIOD an integer ${CPU_PERIOD.min}..${CPU_PERIOD.max}, default 100000), or "max"`;
    if (typeof v !== 'string') return want;
    const m = /^(\S+)(?: (\S+))?$/.exec(v);
    if (!m) return want;
    const quota = m[1] === 'max' ? max : whole(m[1]!, max);
    const period = m[2] === undefined ? 100000 : whole(m[2], CPU_PERIOD.max);
    return quota === null || quota < CPU_PERIOD.min || period === null || period < CPU_PERIOD.min ? want : null;
  }
  const top = limit === 'pidsMax' ? PIDS_MAX_LIMIT : max;
  const ok = v === 'max' || (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= top);
  return ok ? null : `expected an integer 1..${top}${limit === 'memoryMax' ? ' (bytes)' : ''}, or "max"`;
}

/** Each limit's file in its cgroup. */
export const limitFileName = (limit: CgroupLimitName): string => ({ memoryMax: 'memory.max', cpuMax: 'cpu.max', pidsMax: 'pids.max' })[limit];

/** The value written to each limit's file (memory.max, cpu.max, pids.max): "max" where it is not asked. */
export function limitFiles(limits: CgroupLimits): Record<string, string> {
  return {
    'memory.max': String(limits.memoryMax ?? 'max'),
    'cpu.max': limits.cpuMax ?? 'max',
    'pids.max': String(limits.pidsMax ?? 'max'),
  };
}
