// The running-as fields of an entity in `apply` (README "Running as"): checked
// against this machine (users and groups exist, env files read, limits within
// what can be set, what needs root) and resolved to ids, so the keeper applies
// plain numbers. Every problem names its path; a file with one changes nothing.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { Issue } from '../errors.js';
import type { ActionSpec, ConditionSpec } from '../model/conditions.js';
import { pathText, zodIssues, type Path } from '../protocol/issues.js';
import { envMap } from '../protocol/specs.js';
import { keeperCommand } from '../paths.js';
import { LIMIT_NAMES, type CgroupLimits, type LimitName, type LimitValue, type RunAs } from '../model/runas.js';
import { limitValueProblem, type CgroupLimitName } from './cgroup-detect.js';
import { findGroup, findUser, userGroups } from './accounts.js';
import { readEnvFile } from './env-file.js';
import { cgroupProblemsHere } from './cgroups.js';
import { hamLimits, limitProblem, parseLimit } from './runas-limits.js';

const account = z.union([
  z.string().min(1).max(256),
  z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 2),
]);

/** A cgroup limit, bounded as the kernel bounds it (a value it would refuse fails the apply, not the start). */
function cgroupLimit<K extends CgroupLimitName>(limit: K) {
  return z
    .unknown()
    .superRefine((v, ctx) => {
      const why = limitValueProblem(limit, v);
      if (why) ctx.addIssue({ code: 'custom', message: why });
    })
    .transform((v) => v as NonNullable<CgroupLimits[K]>)
    .optional();
}

/** Spread into the entity's schema (apply-schema.ts). `group` is an entity's ham group there: the Unix group is `user: "USER:GROUP"`. */
export const runAsFields = {
  user: account.optional(),
  groups: z.array(account).max(64).optional(),
  umask: z
    .unknown()
    .refine(
      (v): v is string => typeof v === 'string' && /^0?[0-7]{3}$/.test(v),
      'expected a quoted octal string such as "0027" (YAML reads 0027 unquoted as a number)',
    )
    .optional(),
  envFile: z.union([z.string().min(1).max(4096), z.array(z.string().min(1).max(4096)).min(1).max(16)]).optional(),
  limits: z.record(z.unknown()).optional(),
  nice: z.number().int().min(-20).max(19).optional(),
  oomScoreAdj: z.number().int().min(-1000).max(1000).optional(),
  cgroup: z
    .object({ memoryMax: cgroupLimit('memoryMax'), cpuMax: cgroupLimit('cpuMax'), pidsMax: cgroupLimit('pidsMax') })
    .strict()
    .optional(),
};
type Fields = { [K in keyof typeof runAsFields]?: z.output<(typeof runAsFields)[K]> };

const uid = (): number => process.geteuid?.() ?? 0;
/** The capabilities each setting takes (a root HAM in a container may lack some: CAP_SYS_RESOURCE often). */
const CAP = { SETGID: 6, SETUID: 7, SYS_NICE: 23, SYS_RESOURCE: 24 } as const;
function hasCap(bit: number): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return !!m && ((BigInt(`0x${m[1]}`) >> BigInt(bit)) & 1n) === 1n;
}
const gid = (): number => process.getegid?.() ?? 0;

function ownInt(path: string): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}
function ownNice(): number {
  const f = readFileSync('/proc/self/stat', 'utf8');
  return Number(f.slice(f.lastIndexOf(')') + 2).split(' ')[16]) || 0;
}

/** The entity's running-as settings (undefined: none), the variables its env files give, and the problems. */
export function checkRunAs(cfg: Fields, at: Path, baseDir: string, home: string): { runAs?: RunAs; fileEnv: Record<string, string>; issues: Issue[] } {
  const issues: Issue[] = [];
  if (Object.keys(runAsFields).every((k) => cfg[k as keyof Fields] === undefined)) return { fileEnv: {}, issues }; // most entities: nothing to look up
  const add = (p: Path, expected: string, got?: string): void =>
    void issues.push(got === undefined ? { path: pathText(p), expected } : { path: pathText(p), expected, got });
  const r: RunAs = {};
  const root = hasCap(CAP.SYS_RESOURCE); // what raising a hard limit takes
  const needRoot = (p: Path, what: string, cap: keyof typeof CAP): void =>
    add(
      p,
      `expected a HAM running as root${uid() === 0 ? ` with CAP_${cap}` : ''} to ${what}`,
      uid() === 0 ? `this HAM runs as root without CAP_${cap}` : `this HAM runs as uid ${uid()}`,
    );

  if (cfg.user !== undefined) {
    const s = String(cfg.user);
    const colon = s.indexOf(':');
    const [u, g] = colon < 0 ? [s, undefined] : [s.slice(0, colon), s.slice(colon + 1)];
    const user = u ? findUser(/^\d+$/.test(u) ? Number(u) : u) : undefined;
    if (!user) add([...at, 'user'], 'expected a user that exists on this machine (a name or an id)', JSON.stringify(u));
    else {
      r.user = { name: user.name, uid: user.id, home: user.home ?? '/' };
      if (user.id !== uid() && !hasCap(CAP.SETUID)) needRoot([...at, 'user'], `run as another user (${user.name})`, 'SETUID');
    }
    if (g !== undefined) {
      const grp = g ? findGroup(/^\d+$/.test(g) ? Number(g) : g) : undefined;
      if (!grp) add([...at, 'user'], 'expected "USER:GROUP" with a group that exists on this machine', JSON.stringify(g));
      else r.group = { name: grp.name, gid: grp.id };
    } else if (user?.gid !== undefined)
      r.group = findGroup(user.gid) ? { name: findGroup(user.gid)!.name, gid: user.gid } : { name: String(user.gid), gid: user.gid };
    if (r.group && r.group.gid !== gid() && !hasCap(CAP.SETGID)) needRoot([...at, 'user'], `run with another group (${r.group.name})`, 'SETGID');
  }
  if (cfg.groups !== undefined) {
    r.groups = [];
    cfg.groups.forEach((v, i) => {
      const grp = findGroup(v);
      if (!grp) add([...at, 'groups', i], 'expected a group that exists on this machine (a name or an id)', JSON.stringify(v));
      else r.groups!.push({ name: grp.name, gid: grp.id });
    });
    if (!hasCap(CAP.SETGID)) needRoot([...at, 'groups'], 'set supplementary groups', 'SETGID');
  } else if (r.user && r.user.uid !== uid()) r.groups = userGroups(r.user.name).map((g) => ({ name: g.name, gid: g.id }));
  if (cfg.umask !== undefined) r.umask = cfg.umask.padStart(4, '0');
  if (cfg.nice !== undefined) {
    r.nice = cfg.nice;
    if (!hasCap(CAP.SYS_NICE) && cfg.nice < ownNice()) needRoot([...at, 'nice'], `lower the nice value below the HAM's own (${ownNice()})`, 'SYS_NICE');
  }
  if (cfg.oomScoreAdj !== undefined) {
    r.oomScoreAdj = cfg.oomScoreAdj;
    const own = ownInt('/proc/self/oom_score_adj') ?? 0;
    if (!hasCap(CAP.SYS_RESOURCE) && cfg.oomScoreAdj < own) needRoot([...at, 'oomScoreAdj'], `lower oomScoreAdj below the HAM's own (${own})`, 'SYS_RESOURCE');
  }
  if (cfg.limits !== undefined) {
    const have = hamLimits();
    const limits: NonNullable<RunAs['limits']> = {};
    for (const [k, raw] of Object.entries(cfg.limits)) {
      const p = [...at, 'limits', k];
      if (!(LIMIT_NAMES as readonly string[]).includes(k)) {
        add(p, `expected a limit among ${LIMIT_NAMES.join(', ')}`, JSON.stringify(k));
        continue;
      }
      const v = parseLimit(raw);
      if (typeof v === 'string') {
        add(p, v, JSON.stringify(raw));
        continue;
      }
      const bad = limitProblem(k as LimitName, v, have, root);
      if (bad) add(p, bad.expected, bad.got);
      else limits[k as LimitName] = v as { soft: LimitValue; hard: LimitValue };
    }
    r.limits = limits;
  }
  const fileEnv: Record<string, string> = {};
  if (cfg.envFile !== undefined) {
    const list = typeof cfg.envFile === 'string' ? [cfg.envFile] : cfg.envFile;
    r.envFile = [];
    list.forEach((f, i) => {
      const path = isAbsolute(f) ? f : resolve(baseDir, f);
      const p = typeof cfg.envFile === 'string' ? [...at, 'envFile'] : [...at, 'envFile', i];
      const got = readEnvFile(path);
      if (!got.ok) add(p, `${path}${got.line ? `:${got.line}` : ''}: ${got.expected}`, got.got);
      else Object.assign(fileEnv, got.env);
      r.envFile!.push(path);
    });
    const size = envMap.safeParse(fileEnv);
    if (!size.success) issues.push(...zodIssues([...at, 'envFile'], fileEnv, size.error));
  }
  if (cfg.cgroup !== undefined) {
    for (const why of cgroupProblemsHere(home, cfg.cgroup)) add([...at, 'cgroup', ...(why.limit ? [why.limit] : [])], why.expected, why.got);
    r.cgroup = cfg.cgroup;
  }
  const keeper = keeperCommand();
  const keeperSide = Object.keys(r).filter((k) => k !== 'envFile' && k !== 'cgroup'); // both keepers give these
  if (keeperSide.length && keeper.kind === 'perl')
    add(
      [...at, keeperSide[0]!],
      `expected no ${keeperSide.join(', ')}: running as another user or with limits needs the C keeper, and this HAM runs the Perl keeper (${keeper.argv.at(-1)}: no C compiler at install, or HAM_KEEPER=perl)`,
    );
  return Object.keys(r).length ? { runAs: r, fileEnv, issues } : { fileEnv, issues };
}

/** An execute action's `user` (at any depth of fail-actions): one that exists, and a root HAM for another. */
export function actionUserIssues(conditions: ConditionSpec[], at: Path): Issue[] {
  const issues: Issue[] = [];
  const walk = (list: ActionSpec[], p: Path): void =>
    list.forEach((a, i) => {
      if (a.user !== undefined) {
        const u = findUser(a.user);
        if (!u)
          issues.push({
            path: pathText([...p, i, 'user']),
            expected: 'expected a user that exists on this machine (a name or an id)',
            got: JSON.stringify(a.user),
          });
        else if (u.id !== uid() && !hasCap(CAP.SETUID))
          issues.push({
            path: pathText([...p, i, 'user']),
            expected: `expected a HAM running as root to run as another user (${u.name})`,
            got: `this HAM runs as uid ${uid()}`,
          });
      }
      walk(a.onFail, [...p, i, 'onFail']);
    });
  for (const c of conditions) walk(c.actions, [...at, 'conditions', c.name, 'actions']);
  return issues;
}
