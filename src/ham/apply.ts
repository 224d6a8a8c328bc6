// `ham apply -f FILE`: declare entities and their conditions. Everything is
// checked before anything changes; every problem is reported with its path in
// the file (`entities.web.conditions.died.actions[1].kind`); then all changes
// are one transaction. Applying the same file twice changes nothing.
// Entities not in the file are left alone (apply adds and updates, it does
// not prune); an entity's conditions become exactly the file's.
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { describe, HamError } from '../errors.js';
import { procId } from '../proc/procfs.js';
import { entityName } from '../protocol/requests.js';
import { commandArgv, conditionBody, envMap, issueGot, itemName, signalName, toConditionSpec } from '../protocol/specs.js';
import type { ConditionRecord, ConditionSpec } from '../model/conditions.js';
import { DEFAULT_RESTART_POLICY, DEFAULT_STOP_POLICY } from '../model/defaults.js';
import { GLOBAL, STRATEGIES, type EntityRecord, type GroupSpec, type RestartPolicy, type StopPolicy } from '../model/records.js';
import type { Change } from '../protocol/views.js';
import { findCycle } from './topology.js';
import { restartCount, toConditionRecord } from './conditions.js';
import { checkExecutable } from './executable.js';
import { Mutex, Pacer } from './pace.js';
import type { NewEntity, Supervisor } from './supervisor.js';

const entityConfig = z
  .object({
    command: commandArgv.optional(),
    pid: z.number().int().positive().optional(),
    placeholder: z.literal(true).optional(),
    env: envMap.default({}),
    cwd: z.string().min(1).optional(),
    conditions: z.record(z.unknown()).default({}),
    restart: z.unknown().optional(),
    stop: z.unknown().optional(),
    group: entityName.optional(),
    requires: z.array(entityName).max(64).default([]),
  })
  .strict();

const groupConfig = z.object({ strategy: z.enum(STRATEGIES).default('one-for-one') }).strict();

const ms = (max: number) => z.number().int().min(0).max(max);
const DAY = 86_400_000;
/** The recovery policy (issue 6): backoff, intensity, and what to run when it is exceeded. */
const restartConfig = z
  .object({
    backoff: z
      .object({
        initialMs: ms(DAY).default(DEFAULT_RESTART_POLICY.backoff.initialMs),
        factor: z.number().min(1).max(100).default(DEFAULT_RESTART_POLICY.backoff.factor),
        maxMs: ms(DAY).default(DEFAULT_RESTART_POLICY.backoff.maxMs),
        resetAfterMs: ms(DAY).default(DEFAULT_RESTART_POLICY.backoff.resetAfterMs),
      })
      .strict()
      .refine((b) => b.maxMs >= b.initialMs, { message: 'expected maxMs ≥ initialMs', path: ['maxMs'] })
      .default({}),
    intensity: z.object({ max: z.number().int().min(0).max(1_000_000), withinMs: ms(DAY).min(1) }).strict().optional(),
    escalate: z.array(z.unknown()).max(64).optional(),
  })
  .strict();
const stopConfig = z
  .object({ signal: signalName.default(DEFAULT_STOP_POLICY.signal), timeoutMs: ms(3_600_000).default(DEFAULT_STOP_POLICY.timeoutMs) })
  .strict();
/** The condition that `restart.escalate` becomes: fired once when the intensity is exceeded. */
export const ESCALATE_CONDITION = 'escalate';

const configSchema = z.object({ entities: z.record(z.unknown()).default({}), groups: z.record(z.unknown()).default({}), baseDir: z.string().optional() }).strict();

/** A key that reads plainly in a path; any other (empty, spaces, dots, control characters) is quoted. */
const PLAIN_KEY = /^[^\u0000-\u001f\u007f-\u009f.[\]"\s]+$/;

/** `a.b[1].c` from a zod-style path; odd keys as `entities["a b"]`, so a path is one line and unambiguous. */
export function pathText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : !PLAIN_KEY.test(p) ? `[${JSON.stringify(p)}]` : i === 0 ? p : `.${p}`)).join('');
}

function issues(prefix: (string | number)[], input: unknown, err: z.ZodError): string[] {
  return err.issues.map((i) => {
    const path = pathText([...prefix, ...i.path]);
    let got: unknown = input;
    for (const k of i.path) got = typeof got === 'object' && got !== null ? (got as Record<string | number, unknown>)[k] : undefined;
    // Each unknown key by its own path (at the top, the object's path is empty).
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => `${pathText([...prefix, ...i.path, k])}: unexpected field`).join('\n');
    if (i.code === 'invalid_union_discriminator') return `${path}: expected one of ${i.options.join(', ')}, got ${describe(got)}`;
    if (i.code === 'invalid_enum_value') return `${path}: expected one of ${i.options.join(', ')}, got ${describe(got)}`;
    if (i.code === 'invalid_type') return `${path}: expected ${i.expected}, got ${describe(got)}`;
    return `${path}: ${i.message}, got ${issueGot(i) ?? describe(got)}`;
  });
}

/** Issues of a wrapped body, with the wrapper's first path element removed (`actions[1]` → `[1]`). */
function prefixed(err: z.ZodError, strip: string): z.ZodError {
  return new z.ZodError(err.issues.map((i) => ({ ...i, path: i.path[0] === strip ? i.path.slice(1) : i.path })));
}

interface Declared {
  /** Set on the first: the file's groups (merged into the store's). */
  groups?: Record<string, GroupSpec>;
  name: string;
  entity: NewEntity | null; // null for `*`
  conditions: ConditionSpec[];
}

/** Validate the whole file; throw one bad-request listing every problem with its path. */
async function validate(config: unknown, cwd: string, baseEnv: Record<string, string>, sup: Supervisor, pace: Pacer): Promise<{ declared: Declared[]; groups: Record<string, GroupSpec> }> {
  const problems: string[] = [];
  const top = configSchema.safeParse(config);
  if (!top.success) throw problemsError(issues([], config, top.error).join('\n').split('\n'));
  const baseDir = top.data.baseDir ?? cwd;
  const out: Declared[] = [];
  const groups: Record<string, GroupSpec> = { ...sup.groups() };
  for (const [gname, raw] of Object.entries(top.data.groups)) {
    const at = ['groups', gname];
    const n = entityName.safeParse(gname);
    if (!n.success) problems.push(`${pathText(at)}: ${n.error.issues[0]!.message}, got ${describe(gname)}`);
    const g = groupConfig.safeParse(raw ?? {});
    if (!g.success) problems.push(...issues(at, raw, g.error));
    else groups[gname] = g.data;
  }
  for (const [name, raw] of Object.entries(top.data.entities)) {
    await pace.tick();
    const at: (string | number)[] = ['entities', name];
    if (name !== GLOBAL) {
      const n = entityName.safeParse(name);
      if (!n.success) problems.push(`${pathText(at)}: ${n.error.issues[0]!.message}, got ${describe(name)}`);
    }
    const e = entityConfig.safeParse(raw);
    if (!e.success) {
      problems.push(...issues(at, raw, e.error));
      continue;
    }
    const cfg = e.data;
    const runs = cfg.command !== undefined || cfg.pid !== undefined;
    if (name === GLOBAL && (cfg.command || cfg.pid || cfg.placeholder || cfg.cwd || Object.keys(cfg.env).length)) problems.push(`${pathText(at)}: expected only conditions on the global entity *`);
    if (name !== GLOBAL && runs === !!cfg.placeholder) problems.push(`${pathText(at)}: expected a command, a pid (optionally with a command to restart it with), or placeholder: true`);
    const entityCwd = cfg.cwd === undefined ? baseDir : isAbsolute(cfg.cwd) ? cfg.cwd : resolve(baseDir, cfg.cwd);
    if (cfg.command) {
      try {
        checkExecutable(name, cfg.command[0]!, entityCwd, { ...baseEnv, ...cfg.env }.PATH);
      } catch (err) {
        problems.push(`${pathText([...at, 'command', 0])}: ${(err as Error).message.replace(/^attach\.argv\[0\]: /, '')}`);
      }
    }
    if (cfg.pid !== undefined && !procId(cfg.pid)) problems.push(`${pathText([...at, 'pid'])}: expected a running process, got ${cfg.pid} (no such process)`);
    const conditions: ConditionSpec[] = [];
    for (const [cname, body] of Object.entries(cfg.conditions)) {
      const cat = [...at, 'conditions', cname];
      const n = itemName.safeParse(cname);
      if (!n.success) problems.push(`${pathText(cat)}: ${n.error.issues[0]!.message}, got ${describe(cname)}`);
      const c = conditionBody.safeParse(body);
      if (!c.success) problems.push(...issues(cat, body, c.error));
      else conditions.push(toConditionSpec(cname, c.data));
    }
    let restartPolicy: RestartPolicy | undefined;
    let stopPolicy: StopPolicy | undefined;
    if (cfg.restart !== undefined) {
      const r = restartConfig.safeParse(cfg.restart);
      if (!r.success) problems.push(...issues([...at, 'restart'], cfg.restart, r.error));
      else {
        restartPolicy = { backoff: r.data.backoff, intensity: r.data.intensity ?? null };
        if (r.data.escalate) {
          const body = { type: 'escalate', rearm: true, actions: r.data.escalate };
          const c = conditionBody.safeParse(body);
          if (!c.success) problems.push(...issues([...at, 'restart', 'escalate'], r.data.escalate, prefixed(c.error, 'actions')));
          else if (conditions.some((x) => x.name === ESCALATE_CONDITION)) problems.push(`${pathText([...at, 'conditions', ESCALATE_CONDITION])}: this name is taken by restart.escalate; rename the condition`);
          else conditions.push(toConditionSpec(ESCALATE_CONDITION, c.data));
        }
        if (!r.data.intensity && r.data.escalate) problems.push(`${pathText([...at, 'restart', 'escalate'])}: expected restart.intensity too (escalation happens when it is exceeded)`);
      }
    }
    if (cfg.stop !== undefined) {
      const r = stopConfig.safeParse(cfg.stop);
      if (!r.success) problems.push(...issues([...at, 'stop'], cfg.stop, r.error));
      else stopPolicy = r.data;
    }
    const restarts = restartCount({ conditions: conditions as ConditionRecord[] });
    if (name === GLOBAL && restarts > 0) problems.push(`${pathText([...at, 'conditions'])}: expected no restart action on the global entity *`);
    if (restarts > 1) problems.push(`${pathText([...at, 'conditions'])}: expected at most one restart action per entity, got ${restarts}`);
    if (restarts > 0 && !cfg.command) problems.push(`${pathText([...at, 'conditions'])}: a restart action needs a command to restart with`);
    const kind = cfg.placeholder ? 'placeholder' : cfg.pid !== undefined ? 'pid' : 'spawned';
    if ((cfg.group !== undefined || cfg.requires.length > 0) && !cfg.command) problems.push(`${pathText([...at, cfg.group !== undefined ? 'group' : 'requires'])}: only an entity with a command can be in a group or require others (the HAM stops and starts it)`);
    if (cfg.group !== undefined && !groups[cfg.group]) problems.push(`${pathText([...at, 'group'])}: expected a group declared under groups: (${Object.keys(groups).join(', ') || 'none'}), got ${describe(cfg.group)}`);
    cfg.requires.forEach((r, i) => {
      if (r === name) problems.push(`${pathText([...at, 'requires', i])}: an entity cannot require itself`);
      else if (!Object.prototype.hasOwnProperty.call(top.data.entities, r) && !sup.get(r)) problems.push(`${pathText([...at, 'requires', i])}: expected an entity in this file or attached, got ${describe(r)}`);
    });
    out.push({
      name,
      entity: name === GLOBAL ? null : { name, kind, argv: cfg.command ?? [], env: cfg.env, cwd: entityCwd, pid: cfg.pid, conditions: [], restartPolicy: restartPolicy ?? DEFAULT_RESTART_POLICY, stopPolicy: stopPolicy ?? DEFAULT_STOP_POLICY, group: cfg.group ?? null, requires: cfg.requires },
      conditions,
    });
  }
  // Cycles over what the file declares and what is attached already (only a file that declares requires can make one).
  const edges = new Map<string, string[]>();
  const declaresRequires = out.some((d) => (d.entity?.requires?.length ?? 0) > 0);
  if (declaresRequires) for (const e of sup.all()) edges.set(e.name, e.requires);
  for (const d of out) if (d.entity) edges.set(d.name, d.entity.requires ?? []);
  const cycle = declaresRequires ? findCycle(edges) : undefined;
  if (cycle) problems.push(`${pathText(['entities', cycle[0]!, 'requires'])}: a dependency cycle: ${cycle.join(' → ')}`);
  if (problems.length) throw problemsError(problems.join('\n').split('\n'));
  return { declared: out, groups };
}

/** At most this many problems are listed (a file with thousands of them must not make a reply too big to send). */
export const MAX_PROBLEMS = 100;

function problemsError(problems: string[]): HamError {
  const n = problems.length;
  const head = `${n} problem${n > 1 ? 's' : ''} in the configuration${n > MAX_PROBLEMS ? ` (the first ${MAX_PROBLEMS})` : ''}:`;
  return new HamError({ code: 'bad-request', message: [head, ...problems.slice(0, MAX_PROBLEMS).map((p) => (p.length > 500 ? `${p.slice(0, 497)}...` : p))].join('\n') });
}

/** Spec fields only, keys sorted: equal configurations compare equal. */
function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}
const COUNTERS = new Set(['runs', 'failures', 'lastRunAt', 'lastResult', 'lastError', 'fired', 'failed', 'lastFiredAt']);
function specOf(c: ConditionSpec | ConditionRecord): string {
  return canon(JSON.parse(JSON.stringify(c), (k, v: unknown) => (COUNTERS.has(k) ? undefined : v)));
}

function planConditions(current: ConditionRecord[], declared: ConditionSpec[], details: string[]): ConditionRecord[] | undefined {
  let changed = current.length !== declared.length;
  const next = declared.map((d) => {
    const old = current.find((c) => c.name === d.name);
    if (old && specOf(old) === specOf(toConditionRecord(d))) return old;
    changed = true;
    details.push(`condition ${d.name} ${old ? 'updated' : 'added'}`);
    return toConditionRecord(d, old);
  });
  for (const c of current) if (!declared.some((d) => d.name === c.name)) details.push(`condition ${c.name} removed`);
  return changed ? next : undefined;
}

/** One apply at a time per HAM process: an apply yields while it validates and plans. */
const applying = new Mutex();

export function applyConfig(sup: Supervisor, config: unknown, o: { dryRun: boolean; cwd: string; baseEnv: Record<string, string> }): Promise<{ dryRun: boolean; changes: Change[] }> {
  return applying.run(() => applyNow(sup, config, o));
}

async function applyNow(sup: Supervisor, config: unknown, o: { dryRun: boolean; cwd: string; baseEnv: Record<string, string> }): Promise<{ dryRun: boolean; changes: Change[] }> {
  // Validating and planning yield every few ms (a file of 10,000 entities
  // used to be one turn: the Guardian took the HAM for hung). The commit
  // re-reads each entity inside its one transaction, so what changed between
  // slices is not lost.
  const pace = new Pacer();
  const { declared, groups } = await validate(config, o.cwd, o.baseEnv, sup, pace);
  const groupsChanged = canon(groups) !== canon(sup.groups());
  const changes: Change[] = [];
  const creates: NewEntity[] = [];
  const updates: { name: string; fn: (x: EntityRecord) => void }[] = [];
  for (const d of declared) {
    await pace.tick();
    const details: string[] = [];
    const cur = d.name === GLOBAL ? (sup.get(GLOBAL) ?? null) : sup.get(d.name);
    if (!cur || (cur.kind === 'placeholder' && d.entity && d.entity.kind !== 'placeholder')) {
      if (d.entity) {
        creates.push({ ...d.entity, conditions: d.conditions.map((c) => toConditionRecord(c, cur?.conditions.find((x) => x.name === c.name))) });
        changes.push({ entity: d.name, change: 'created', details: [`${d.entity.kind}${cur ? ' (placeholder filled)' : ''}`, ...d.conditions.map((c) => `condition ${c.name} added`)] });
        continue;
      }
    }
    const base = cur?.conditions ?? [];
    const conditions = planConditions(base, d.conditions, details);
    const e = d.entity;
    const config = e && cur && canon([cur.argv, cur.env, cur.cwd]) !== canon([e.argv, e.env, e.cwd]);
    if (config) details.push('command, env or cwd changed: takes effect at the next start');
    const policy = e && cur && canon([cur.restartPolicy, cur.stopPolicy, cur.group, cur.requires]) !== canon([e.restartPolicy, e.stopPolicy, e.group, e.requires]);
    if (policy) details.push('restart, stop, group or requires changed');
    if (!conditions && !config && !policy && cur) {
      changes.push({ entity: d.name, change: 'unchanged', details: [] });
      continue;
    }
    changes.push({ entity: d.name, change: cur ? 'updated' : 'created', details });
    updates.push({
      name: d.name,
      fn: (x) => {
        if (conditions) x.conditions = conditions;
        if (config && e) Object.assign(x, { argv: e.argv, env: e.env, cwd: e.cwd });
        if (policy && e) Object.assign(x, { restartPolicy: e.restartPolicy, stopPolicy: e.stopPolicy, group: e.group, requires: e.requires });
      },
    });
  }
  if (!o.dryRun) await sup.commitPlan(creates, updates, groupsChanged ? groups : undefined);
  return { dryRun: o.dryRun, changes };
}
