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
import { commandArgv, conditionBody, itemName, noNul, toConditionSpec } from '../protocol/specs.js';
import type { ConditionRecord, ConditionSpec } from '../store/model.js';
import { GLOBAL, type EntityRecord } from '../store/types.js';
import { restartCount, toConditionRecord } from './conditions.js';
import { checkExecutable } from './executable.js';
import type { NewEntity, Supervisor } from './supervisor.js';

const entityConfig = z
  .object({
    command: commandArgv.optional(),
    pid: z.number().int().positive().optional(),
    placeholder: z.literal(true).optional(),
    env: z.record(z.string().refine(noNul, 'expected no NUL byte')).default({}),
    cwd: z.string().min(1).optional(),
    conditions: z.record(z.unknown()).default({}),
  })
  .strict();

const configSchema = z.object({ entities: z.record(z.unknown()).default({}), baseDir: z.string().optional() }).strict();

export interface Change {
  entity: string;
  change: 'created' | 'updated' | 'unchanged';
  details: string[];
}

/** `a.b[1].c` from a zod-style path. */
export function pathText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function issues(prefix: (string | number)[], input: unknown, err: z.ZodError): string[] {
  return err.issues.map((i) => {
    const path = pathText([...prefix, ...i.path]);
    let got: unknown = input;
    for (const k of i.path) got = typeof got === 'object' && got !== null ? (got as Record<string | number, unknown>)[k] : undefined;
    if (i.code === 'unrecognized_keys') return `${path}: unexpected field(s) ${i.keys.join(', ')}`;
    if (i.code === 'invalid_union_discriminator') return `${path}: expected one of ${i.options.join(', ')}, got ${describe(got)}`;
    if (i.code === 'invalid_enum_value') return `${path}: expected one of ${i.options.join(', ')}, got ${describe(got)}`;
    if (i.code === 'invalid_type') return `${path}: expected ${i.expected}, got ${describe(got)}`;
    return `${path}: ${i.message}, got ${describe(got)}`;
  });
}

interface Declared {
  name: string;
  entity: NewEntity | null; // null for `*`
  conditions: ConditionSpec[];
}

/** Validate the whole file; throw one bad-request listing every problem with its path. */
function validate(config: unknown, cwd: string, baseEnv: Record<string, string>): Declared[] {
  const problems: string[] = [];
  const top = configSchema.safeParse(config);
  if (!top.success) throw new HamError({ code: 'bad-request', message: issues([], config, top.error).join('\n') });
  const baseDir = top.data.baseDir ?? cwd;
  const out: Declared[] = [];
  for (const [name, raw] of Object.entries(top.data.entities)) {
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
    const restarts = restartCount({ conditions: conditions as ConditionRecord[] });
    if (name === GLOBAL && restarts > 0) problems.push(`${pathText([...at, 'conditions'])}: expected no restart action on the global entity *`);
    if (restarts > 1) problems.push(`${pathText([...at, 'conditions'])}: expected at most one restart action per entity, got ${restarts}`);
    if (restarts > 0 && !cfg.command) problems.push(`${pathText([...at, 'conditions'])}: a restart action needs a command to restart with`);
    const kind = cfg.placeholder ? 'placeholder' : cfg.pid !== undefined ? 'pid' : 'spawned';
    out.push({
      name,
      entity: name === GLOBAL ? null : { name, kind, argv: cfg.command ?? [], env: cfg.env, cwd: entityCwd, pid: cfg.pid, conditions: [] },
      conditions,
    });
  }
  if (problems.length) throw new HamError({ code: 'bad-request', message: `${problems.length} problem${problems.length > 1 ? 's' : ''} in the configuration:\n${problems.join('\n')}` });
  return out;
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

export async function applyConfig(sup: Supervisor, config: unknown, o: { dryRun: boolean; cwd: string; baseEnv: Record<string, string> }): Promise<{ dryRun: boolean; changes: Change[] }> {
  const declared = validate(config, o.cwd, o.baseEnv);
  const changes: Change[] = [];
  const creates: NewEntity[] = [];
  const updates: { name: string; fn: (x: EntityRecord) => void }[] = [];
  for (const d of declared) {
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
    if (!conditions && !config && cur) {
      changes.push({ entity: d.name, change: 'unchanged', details: [] });
      continue;
    }
    changes.push({ entity: d.name, change: cur ? 'updated' : 'created', details });
    updates.push({
      name: d.name,
      fn: (x) => {
        if (conditions) x.conditions = conditions;
        if (config && e) Object.assign(x, { argv: e.argv, env: e.env, cwd: e.cwd });
      },
    });
  }
  if (!o.dryRun) await sup.commitPlan(creates, updates);
  return { dryRun: o.dryRun, changes };
}
