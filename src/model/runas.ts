// Running as (README "Running as"): who an entity's command runs as and with
// what limits, resolved at `apply` (names to ids, env files to variables) so the
// keeper applies plain numbers between fork and exec (keeper-runas.c).

/** A resource limit's value: a number, or the kernel's RLIM_INFINITY. */
export type LimitValue = number | 'unlimited';

/** setrlimit(2) resources by their short names (RLIMIT_NOFILE is `nofile`); the keeper maps them. */
export const LIMIT_NAMES = [
  'as',
  'core',
  'cpu',
  'data',
  'fsize',
  'locks',
  'memlock',
  'msgqueue',
  'nice',
  'nofile',
  'nproc',
  'rss',
  'rtprio',
  'rttime',
  'sigpending',
  'stack',
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];

export interface RunAs {
  /** The user (name as given, or its name when given as an id) and its id. */
  user?: { name: string; uid: number; home: string } | undefined;
  /** The primary group: as given, else the user's. */
  group?: { name: string; gid: number } | undefined;
  /** Supplementary groups: as given, else the user's own (initgroups). */
  groups?: { name: string; gid: number }[] | undefined;
  /** Octal text such as "0027". */
  umask?: string | undefined;
  /** The env files read at apply (absolute paths), in order. */
  envFile?: string[] | undefined;
  limits?: Partial<Record<LimitName, { soft: LimitValue; hard: LimitValue }>> | undefined;
  nice?: number | undefined;
  oomScoreAdj?: number | undefined;
  /** cgroup v2 limits (README "cgroups"): the entity runs in a cgroup of its own, `{}` for none but that. */
  cgroup?: CgroupLimits | undefined;
}

/** memory.max (bytes), cpu.max ("QUOTA PERIOD" in µs), pids.max of an entity's cgroup; "max": none. */
export type CgroupLimits = { memoryMax?: number | 'max'; cpuMax?: string; pidsMax?: number | 'max' };

/** One line for `ham status NAME`. */
export function runAsText(r: RunAs): string {
  const parts: string[] = [];
  if (r.user) parts.push(`user ${r.user.name} (${r.user.uid})`);
  if (r.group) parts.push(`group ${r.group.name} (${r.group.gid})`);
  if (r.groups) parts.push(`groups ${r.groups.map((g) => g.name).join(',') || '-'}`);
  if (r.umask !== undefined) parts.push(`umask ${r.umask}`);
  if (r.nice !== undefined) parts.push(`nice ${r.nice}`);
  if (r.oomScoreAdj !== undefined) parts.push(`oomScoreAdj ${r.oomScoreAdj}`);
  for (const [k, v] of Object.entries(r.limits ?? {})) parts.push(`${k} ${v.soft === v.hard ? v.soft : `${v.soft}/${v.hard}`}`);
  if (r.envFile?.length) parts.push(`envFile ${r.envFile.join(', ')}`);
  if (r.cgroup)
    parts.push(
      `cgroup ${
        Object.entries(r.cgroup)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '(no limits)'
      }`,
    );
  return parts.join('; ');
}

/**
 * What a readiness command of an entity run as `r` gets (src/ham/readiness.ts): its user and group only, as
 * the HAM spawns it (libuv sets uid and gid, drops supplementary groups): not the rest the keeper gives the entity.
 */
export function probeRunAsText(r: RunAs | null | undefined): string {
  if (!r?.user) return '';
  return ` (as ${r.user.name}:${r.group?.name ?? r.user.uid} only: no supplementary groups, limits, umask, nice or oomScoreAdj)`;
}
