// Entities' cgroups (README "cgroups"): each entity with `cgroup:` runs in
// BASE/ham-TAG/ID (BASE: the pair's own cgroup2 cgroup, TAG: a short hash of the
// home), with the controllers BASE offers enabled for it (accounting, and the
// limits asked for). The keeper moves its child there between fork and exec
// (keeper-runas.c); a stop kills what is left in it; removal removes it.
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HamError } from '../errors.js';
import type { CgroupLimits } from '../model/runas.js';
import {
  baseDir,
  CGROUP_LIMITS,
  limitFileName,
  limitValueProblem,
  type CgroupLimitName,
  cgroupProblems,
  homeDirName,
  limitFiles,
  PAIR_LEAF,
  parseMountinfo,
  parseProcCgroup,
  type CgroupFacts,
  type CgroupProblem,
} from './cgroup-detect.js';

const read = (p: string): string => {
  try {
    return readFileSync(p, 'utf8');
  } catch {
    return '';
  }
};
const words = (p: string): string[] => read(p).split(/\s+/).filter(Boolean);

/** The home's short hash: its folder's name under BASE is ham-TAG. */
export const homeTag = (root: string): string => createHash('sha256').update(root).digest('hex').slice(0, 12);

/** What this machine offers the pair of `root`, as the HAM sees it now. */
export function cgroupFacts(root: string): CgroupFacts {
  const mounts = parseMountinfo(read('/proc/self/mountinfo'));
  const own = parseProcCgroup(read('/proc/self/cgroup'));
  const base = mounts.v2 && own !== null ? baseDir(mounts.v2, own, homeTag(root)) : null;
  let notDelegated: string | null = null;
  if (typeof base === 'string')
    for (const p of [base, join(base, 'cgroup.procs'), join(base, 'cgroup.subtree_control')])
      try {
        accessSync(p, constants.W_OK);
      } catch (err) {
        notDelegated = `${p} is not writable by this HAM (uid ${process.geteuid?.() ?? '?'}): ${(err as NodeJS.ErrnoException).code}`;
        break;
      }
  return { mounts, base, controllers: typeof base === 'string' ? words(join(base, 'cgroup.controllers')) : [], notDelegated };
}

/** Why `limits` cannot be honoured for the pair of `root`; empty: they can. */
export const cgroupProblemsHere = (root: string, limits: CgroupLimits): CgroupProblem[] => cgroupProblems(cgroupFacts(root), limits);

const fail = (message: string, entity?: string): HamError => new HamError({ code: 'spawn-failed', ...(entity ? { entity } : {}), message });

/** Does a command line (its NUL-separated arguments) name home `root`: as a whole argument, or delimited by spaces in a ham process title ("ham: HAM ROOT epoch N"; a root may hold spaces)? Never a mere prefix (/tmp/h1 is not /tmp/h10). */
export function argsNameHome(args: string[], root: string): boolean {
  return args.some((a) => a === root || (a.startsWith('ham') && (a.endsWith(` ${root}`) || a.includes(` ${root} `))));
}

/** Is `pid` the pair's (a daemon, its nanny, a keeper or what they started): its command line or an ancestor's names the home? */
function pairs(pid: number, root: string): boolean {
  for (let p = pid, depth = 0; p > 1 && depth < 64; depth++) {
    if (argsNameHome(read(`/proc/${p}/cmdline`).split('\0'), root)) return true;
    const stat = read(`/proc/${p}/stat`);
    p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return false;
}

/**
 * Enable `ctls` (those `dir` offers) for the children of `dir`. A cgroup that holds processes may
 * not (EBUSY, the no-internal-processes rule): BASE then has its processes moved to
 * BASE/ham-TAG/ham-pair first, if they are all the pair's. A shared cgroup (a login session's)
 * is left as it is: without the controllers if the limits need none (`needed`), else refused.
 */
function enable(dir: string, ctls: string[], needed: string[], pairLeaf: string | null, root: string): void {
  const offered = words(join(dir, 'cgroup.controllers'));
  const want = ctls.filter((c) => offered.includes(c) && !words(join(dir, 'cgroup.subtree_control')).includes(c));
  if (!want.length) return;
  const write = (): void => writeFileSync(join(dir, 'cgroup.subtree_control'), want.map((c) => `+${c}`).join(' '));
  try {
    return write();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || !pairLeaf) throw err;
  }
  for (let round = 0; round < 8; round++) {
    const procs = words(join(dir, 'cgroup.procs')).map(Number);
    if (!procs.length) break;
    const other = procs.find((p) => !pairs(p, root));
    if (other !== undefined && !want.some((c) => needed.includes(c))) return; // accounting only: not worth a refusal
    if (other !== undefined)
      throw new Error(
        `its processes must move to ${pairLeaf} (cgroup v2 lets no cgroup with processes give controllers to its children), but pid ${other} (${read(`/proc/${other}/comm`).trim() || '?'}) there is not the pair's: run the pair in a cgroup of its own (ham startup's unit has Delegate=yes)`,
      );
    mkdirSync(pairLeaf, { recursive: true });
    for (const p of procs)
      try {
        writeFileSync(join(pairLeaf, 'cgroup.procs'), String(p));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // gone meanwhile
      }
  }
  write();
}

/** Write limit file `file` of cgroup `dir`; a refusal names the field, the file, what the kernel takes and what it refused. */
export function writeLimit(dir: string, file: string, v: string): void {
  try {
    writeFileSync(join(dir, file), v);
  } catch (err) {
    const limit = (Object.keys(CGROUP_LIMITS) as CgroupLimitName[]).find((k) => limitFileName(k) === file);
    const expected = limit ? limitValueProblem(limit, undefined)!.replace(/^expected /, '') : 'a value it takes';
    throw new Error(
      `\`cgroup.${limit ?? file}\` (${join(dir, file)}): expected ${expected}, the kernel refused ${v}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Make entity `id`'s cgroup (or bring an existing one up to date) with its limits written;
 * its path. Throws, naming the path and why, where it cannot be (the start then fails with it).
 */
export function prepareCgroup(root: string, id: number, limits: CgroupLimits, entity: string): string {
  const facts = cgroupFacts(root);
  const why = cgroupProblems(facts, limits)[0];
  if (why) throw fail(`cgroup: ${why.expected}, got ${why.got}`, entity);
  const base = facts.base as string;
  const top = join(base, homeDirName(homeTag(root)));
  const leaf = join(top, String(id));
  // A delegated cgroup is the pair's to divide: every controller it offers (accounting too). The hierarchy's
  // root (it alone has no cgroup.type) is the machine's: only what the limits need.
  const needed = Object.entries(CGROUP_LIMITS)
    .filter(([k]) => limits[k as keyof CgroupLimits] !== undefined)
    .map(([, c]) => c as string);
  const ctls = existsSync(join(base, 'cgroup.type')) ? facts.controllers : needed;
  let at = base;
  try {
    enable(base, ctls, needed, join(top, PAIR_LEAF), root);
    at = top;
    mkdirSync(top, { recursive: true });
    enable(top, ctls, needed, null, root);
    at = leaf;
    if (!existsSync(leaf)) mkdirSync(leaf);
    for (const [file, v] of Object.entries(limitFiles(limits))) {
      const asked = v !== 'max';
      if (existsSync(join(leaf, file))) writeLimit(leaf, file, v);
      else if (asked) throw new Error(`expected ${file} there (its controller enabled above it), got none: a limit is never left unset`);
    }
  } catch (err) {
    throw fail(`cgroup ${at}: ${(err as Error).message}`, entity);
  }
  return leaf;
}

/** The pids in cgroup `dir` (none if it is gone). */
export const cgroupPids = (dir: string): number[] => words(join(dir, 'cgroup.procs')).map(Number);

/** Without cgroup.kill: how many passes (pids read, each SIGKILLed once) catch what forked during the one before. */
const KILL_PASSES = 10;

/** Is cgroup `dir` empty (cgroup.events `populated 0`; gone counts as empty)? */
const drained = (dir: string): boolean => !/^populated 1$/m.test(read(join(dir, 'cgroup.events')));

export interface KillOptions {
  /** How long to wait for the cgroup to empty (a SIGKILLed process in D state may take a while). */
  ms?: number;
  /** Checked (synchronously) before each kill: false once the entity's next start began, so nothing of it is killed. */
  mayKill?: () => boolean;
  /** false: each pid, as on a kernel without cgroup.kill (tests). */
  killFile?: boolean;
}

/**
 * SIGKILL everything left in cgroup `dir` (cgroup.kill where the kernel has it, else a few passes over
 * its pids, each killed once); resolves with the pids found once it is empty, `ms` passed, or `mayKill`
 * said no (then nothing more is killed).
 */
export async function killCgroup(dir: string, opts: KillOptions = {}): Promise<number[]> {
  const { ms = 5000, mayKill = () => true } = opts;
  const left = cgroupPids(dir);
  if (!left.length || !mayKill()) return [];
  const killFile = join(dir, 'cgroup.kill');
  let viaKill = false;
  try {
    if (opts.killFile !== false && existsSync(killFile)) viaKill = (writeFileSync(killFile, '1'), true);
  } catch {
    /* then one by one */
  }
  const deadline = Date.now() + ms;
  for (let pass = 0; !drained(dir) && Date.now() < deadline; pass++) {
    if (!viaKill && pass < KILL_PASSES && mayKill())
      for (const p of cgroupPids(dir))
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
    await new Promise((r) => setTimeout(r, 20));
  }
  return left;
}

/** Remove cgroup `dir` (and the home's folder once it holds nothing else); why not, or null. */
export function removeCgroup(dir: string): string | null {
  try {
    rmdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `${dir}: ${code}${code === 'EBUSY' ? ' (processes are still in it)' : ''}`;
  }
  try {
    rmdirSync(join(dir, '..')); // fails while other entities' (or the pair's leaf) are there: kept
  } catch {
    /* still in use */
  }
  return null;
}
