// `ham apply -f FILE` as a pure function: a parsed file and what is there now
// (the World) give a plan (what to create, what to update, what changes) or
// every problem in the file, as data. Nothing is written here; what it needs
// to know of the machine (is this executable? is that pid running?) it asks
// the World, so tests can plan without a HAM.
import { isAbsolute, resolve } from 'node:path';
import { describe, type Issue } from '../errors.js';
import { pathText, zodIssues, type Path } from '../protocol/issues.js';
import { entityName } from '../protocol/requests.js';
import { restartCount, restartCountIssues } from '../protocol/rules.js';
import { conditionBody, itemName, toConditionSpec } from '../protocol/specs.js';
import type { ConditionRecord, ConditionSpec } from '../model/conditions.js';
import { DEFAULT_LOG_POLICY, DEFAULT_RESTART_POLICY, DEFAULT_STOP_POLICY } from '../model/defaults.js';
import { GLOBAL, type EntityRecord, type GroupSpec, type RestartPolicy, type StopPolicy } from '../model/records.js';
import type { Change } from '../protocol/views.js';
import type { ReadinessSpec } from '../model/readiness.js';
import { parseReadiness } from './readiness-schema.js';
import { notifyHomeProblem } from '../keeper/ready-state.js';
import { actionUserIssues, checkRunAs } from './runas-schema.js';
import { configSchema, entityConfig, ESCALATE_CONDITION, groupConfig, logsConfig, restartConfig, stopConfig } from './apply-schema.js';
import { toConditionRecord } from './conditions.js';
import { canon, isSpent, specOf, type SpentCondition } from './spent-conditions.js';
import { findCycle } from './topology.js';
import type { NewEntity } from './supervisor.js';

export type { Change };

/** What the planner may know of the HAM and the machine. */
export interface World {
  /** Where relative paths in the file start (unless it says `baseDir`). */
  cwd: string;
  /** The HAM's home (notify sockets live in it). */
  home: string;
  baseEnv: Record<string, string>;
  groups: Record<string, GroupSpec>;
  entity(name: string): EntityRecord | undefined;
  entities(): Iterable<EntityRecord>;
  executableProblem(cmd: string, cwd: string, path: string | undefined): { expected: string; got: string } | undefined;
  pidRunning(pid: number): boolean;
  /** Called between entities: the HAM yields there (a file of 10,000 entities must not be one turn). */
  tick(): Promise<void> | undefined;
}

/** What one entity's update sets (each part only when it changed). */
export interface EntityUpdate {
  name: string;
  conditions?: ConditionRecord[];
  /** The spent one-shots the file still declares as they were (the others are forgotten). */
  spent?: SpentCondition[];
  config?: Pick<EntityRecord, 'argv' | 'env' | 'cwd' | 'readiness'> & Partial<Pick<EntityRecord, 'logs' | 'runAs'>>;
  policy?: Pick<EntityRecord, 'restartPolicy' | 'stopPolicy' | 'group' | 'requires'>;
}

export interface Plan {
  creates: NewEntity[];
  updates: EntityUpdate[];
  /** The groups to store, when they change. */
  groups?: Record<string, GroupSpec>;
  changes: Change[];
}

export type Planned = { ok: true; plan: Plan } | { ok: false; issues: Issue[] };

interface Declared {
  name: string;
  entity: NewEntity | null; // null for `*`
  conditions: ConditionSpec[];
}

/** What a typo of a field is compared with ("did you mean"); `baseDir` is the CLI's, not the file's. */
const TOP_FIELDS = Object.keys(configSchema.shape).filter((k) => k !== 'baseDir');
const ENTITY_FIELDS = Object.keys(entityConfig.shape);
const LOGS_FIELDS = Object.keys(logsConfig.shape);
const STOP_FIELDS = Object.keys(stopConfig.shape);
const RESTART_FIELDS = Object.keys(restartConfig.shape);
const GROUP_FIELDS = Object.keys(groupConfig.shape);

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Check every part of the file, collecting each problem; what checks out is declared. */
async function check(config: unknown, w: World, issues: Issue[]): Promise<{ declared: Declared[]; groups: Record<string, GroupSpec> } | undefined> {
  const add = (path: Path, expected: string, got?: string): void =>
    void issues.push(got === undefined ? { path: pathText(path), expected } : { path: pathText(path), expected, got });
  let top = configSchema.safeParse(config);
  if (!top.success) {
    issues.push(...zodIssues([], config, top.error, TOP_FIELDS));
    // An unexpected top-level key (a typo such as `entitys:`) does not hide the problems in the rest.
    top = configSchema.strip().safeParse(config);
    if (!top.success) return undefined;
  }
  const baseDir = top.data.baseDir ?? w.cwd;
  const topLogs = logsConfig.safeParse(top.data.logs ?? {});
  if (!topLogs.success) issues.push(...zodIssues(['logs'], top.data.logs, topLogs.error, LOGS_FIELDS));
  const fileLogs = { ...DEFAULT_LOG_POLICY, ...(topLogs.success ? topLogs.data : {}) };
  const out: Declared[] = [];
  const groups: Record<string, GroupSpec> = { ...w.groups };
  for (const [gname, raw] of Object.entries(top.data.groups)) {
    const n = entityName.safeParse(gname);
    if (!n.success) add(['groups', gname], n.error.issues[0]!.message, describe(gname));
    const g = groupConfig.safeParse(raw ?? {});
    if (!g.success) issues.push(...zodIssues(['groups', gname], raw, g.error, GROUP_FIELDS));
    else groups[gname] = g.data;
  }
  for (const [name, raw] of Object.entries(top.data.entities)) {
    await w.tick();
    const at: Path = ['entities', name];
    if (name !== GLOBAL) {
      const n = entityName.safeParse(name);
      if (!n.success) add(at, n.error.issues[0]!.message, describe(name));
    }
    const e = entityConfig.safeParse(raw);
    if (!e.success) issues.push(...zodIssues(at, raw, e.error, ENTITY_FIELDS));
    // The parts below are checked even when the entity's own fields are wrong: every problem is listed.
    const parts = e.success ? e.data : isRecord(raw) ? raw : {};
    const conditions: ConditionSpec[] = [];
    for (const [cname, body] of Object.entries(isRecord(parts.conditions) ? parts.conditions : {})) {
      const cat = [...at, 'conditions', cname];
      const n = itemName.safeParse(cname);
      if (!n.success) add(cat, n.error.issues[0]!.message, describe(cname));
      const c = conditionBody.safeParse(body);
      if (!c.success) issues.push(...zodIssues(cat, body, c.error));
      else conditions.push(toConditionSpec(cname, c.data));
    }
    let restartPolicy: RestartPolicy | undefined;
    let stopPolicy: StopPolicy | undefined;
    if (parts.restart !== undefined) {
      const r = restartConfig.safeParse(parts.restart);
      if (!r.success) issues.push(...zodIssues([...at, 'restart'], parts.restart, r.error, RESTART_FIELDS));
      else {
        restartPolicy = { backoff: r.data.backoff, intensity: r.data.intensity ?? null };
        if (r.data.escalate) {
          const c = conditionBody.safeParse({ type: 'escalate', rearm: true, actions: r.data.escalate });
          // The wrapper's `actions` is not in the file: `restart.escalate[1]`, not `restart.escalate.actions[1]`.
          if (!c.success)
            issues.push(
              ...zodIssues([...at, 'restart', 'escalate'], r.data.escalate, {
                issues: c.error.issues.map((i) => ({ ...i, path: i.path[0] === 'actions' ? i.path.slice(1) : i.path })),
              }),
            );
          else if (conditions.some((x) => x.name === ESCALATE_CONDITION))
            add([...at, 'conditions', ESCALATE_CONDITION], 'this name is taken by restart.escalate; rename the condition');
          else conditions.push(toConditionSpec(ESCALATE_CONDITION, c.data));
        }
        if (!r.data.intensity && r.data.escalate)
          add([...at, 'restart', 'escalate'], 'expected restart.intensity too (escalation happens when it is exceeded)');
      }
    }
    if (parts.stop !== undefined) {
      const r = stopConfig.safeParse(parts.stop);
      if (!r.success) issues.push(...zodIssues([...at, 'stop'], parts.stop, r.error, STOP_FIELDS));
      else stopPolicy = r.data;
    }
    let readiness: ReadinessSpec | null = null;
    if (parts.readiness !== undefined) {
      const r = parseReadiness(parts.readiness, [...at, 'readiness']);
      issues.push(...r.issues);
      readiness = r.spec ?? null;
      const tooLong = readiness?.probe.kind === 'notify' ? notifyHomeProblem(w.home) : undefined;
      if (tooLong) add([...at, 'readiness', 'notify'], tooLong.expected, tooLong.got);
    }
    const logs = logsConfig.safeParse(parts.logs ?? {});
    if (!logs.success) issues.push(...zodIssues([...at, 'logs'], parts.logs, logs.error, LOGS_FIELDS));
    for (const i of restartCountIssues(name, conditions, [...at, 'conditions'])) add(i.path, i.expected, i.got);
    if (!e.success) continue;
    const cfg = e.data;
    const runs = cfg.command !== undefined || cfg.pid !== undefined;
    if (name === GLOBAL && (cfg.command || cfg.pid || cfg.placeholder || cfg.cwd || Object.keys(cfg.env).length))
      add(at, 'expected only conditions on the global entity *');
    if (name !== GLOBAL && runs === !!cfg.placeholder)
      add(at, 'expected a command, a pid (optionally with a command to restart it with), or placeholder: true');
    const entityCwd = cfg.cwd === undefined ? baseDir : isAbsolute(cfg.cwd) ? cfg.cwd : resolve(baseDir, cfg.cwd);
    const runAs = checkRunAs(cfg, at, baseDir, w.home);
    issues.push(...runAs.issues, ...actionUserIssues(conditions, at));
    if (runAs.runAs && !cfg.command) add(at, 'only an entity with a command can run as another user or with limits (its keeper starts it)');
    if (cfg.command) {
      const bad = w.executableProblem(cfg.command[0]!, entityCwd, { ...w.baseEnv, ...cfg.env }.PATH);
      if (bad) add([...at, 'command', 0], bad.expected, bad.got);
    }
    if (cfg.pid !== undefined && !w.pidRunning(cfg.pid)) add([...at, 'pid'], 'expected a running process', `${cfg.pid} (no such process)`);
    if (name !== GLOBAL && restartCount(conditions) > 0 && !cfg.command) add([...at, 'conditions'], 'a restart action needs a command to restart with');
    const kind = cfg.placeholder ? 'placeholder' : cfg.pid !== undefined ? 'pid' : 'spawned';
    if ((cfg.group !== undefined || cfg.requires.length > 0) && !cfg.command)
      add(
        [...at, cfg.group !== undefined ? 'group' : 'requires'],
        'only an entity with a command can be in a group or require others (the HAM stops and starts it)',
      );
    if (readiness && !cfg.command) add([...at, 'readiness'], 'only an entity with a command can have readiness (it is probed after each start)');
    if (cfg.group !== undefined && !groups[cfg.group])
      add([...at, 'group'], `expected a group declared under groups: (${Object.keys(groups).join(', ') || 'none'})`, describe(cfg.group));
    cfg.requires.forEach((r, i) => {
      if (r === name) add([...at, 'requires', i], 'an entity cannot require itself');
      else if (!Object.prototype.hasOwnProperty.call(top.data.entities, r) && !w.entity(r))
        add([...at, 'requires', i], 'expected an entity in this file or attached', describe(r));
    });
    out.push({
      name,
      entity:
        name === GLOBAL
          ? null
          : {
              name,
              kind,
              argv: cfg.command ?? [],
              env: { ...runAs.fileEnv, ...cfg.env }, // env: wins over the env files
              cwd: entityCwd,
              runAs: runAs.runAs ?? null,
              pid: cfg.pid,
              conditions: [],
              restartPolicy: restartPolicy ?? DEFAULT_RESTART_POLICY,
              stopPolicy: { ...(stopPolicy ?? DEFAULT_STOP_POLICY), ...(cfg.reloadSignal ? { reloadSignal: cfg.reloadSignal } : {}) },
              group: cfg.group ?? null,
              requires: cfg.requires,
              readiness,
              logs: { ...fileLogs, ...(logs.success ? logs.data : {}) },
            },
      conditions,
    });
  }
  // Cycles over what the file declares and what is attached already (only a file that declares requires can make one).
  const declaresRequires = out.some((d) => (d.entity?.requires?.length ?? 0) > 0);
  if (declaresRequires) {
    const edges = new Map<string, string[]>();
    for (const e of w.entities()) edges.set(e.name, e.requires);
    for (const d of out) if (d.entity) edges.set(d.name, d.entity.requires ?? []);
    const cycle = findCycle(edges);
    if (cycle) add(['entities', cycle[0]!, 'requires'], `a dependency cycle: ${cycle.join(' → ')}`);
  }
  return { declared: out, groups };
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

/** The plan for a file against the World, or every problem in the file. Entities not in the file are left alone. */
export async function planApply(config: unknown, w: World): Promise<Planned> {
  const issues: Issue[] = [];
  const checked = await check(config, w, issues);
  if (!checked || issues.length) return { ok: false, issues };
  const { declared, groups } = checked;
  const plan: Plan = { creates: [], updates: [], changes: [] };
  if (canon(groups) !== canon(w.groups)) plan.groups = groups;
  for (const d of declared) {
    await w.tick();
    const details: string[] = [];
    const cur = w.entity(d.name);
    if (d.entity && (!cur || (cur.kind === 'placeholder' && d.entity.kind !== 'placeholder'))) {
      plan.creates.push({
        ...d.entity,
        conditions: d.conditions.map((c) =>
          toConditionRecord(
            c,
            cur?.conditions.find((x) => x.name === c.name),
          ),
        ),
      });
      plan.changes.push({
        entity: d.name,
        change: 'created',
        details: [`${d.entity.kind}${cur ? ' (placeholder filled)' : ''}`, ...d.conditions.map((c) => `condition ${c.name} added`)],
      });
      continue;
    }
    // A one-shot a restart pruned, declared as it was: still spent (spent-conditions.ts).
    const spentNow = cur?.spentConditions ?? [];
    const live = d.conditions.filter((c) => !isSpent(spentNow, c) || !!cur?.conditions.some((x) => x.name === c.name));
    const spent = spentNow.filter((s) => d.conditions.some((c) => isSpent([s], c)));
    for (const s of spentNow) if (!d.conditions.some((c) => c.name === s.name)) details.push(`condition ${s.name} (pruned at a restart) forgotten`);
    const conditions = planConditions(cur?.conditions ?? [], live, details);
    const e = d.entity;
    const was = cur && [cur.argv, cur.env, cur.cwd, cur.readiness ?? null, cur.logs, cur.runAs ?? null];
    const config =
      e && was && canon(was) !== canon([e.argv, e.env, e.cwd, e.readiness ?? null, e.logs, e.runAs ?? null])
        ? {
            argv: e.argv,
            env: e.env,
            cwd: e.cwd,
            ...(e.readiness || cur.readiness ? { readiness: e.readiness ?? null } : {}),
            ...(e.logs && canon(e.logs) !== canon(cur.logs) ? { logs: e.logs } : {}),
            ...(e.runAs || cur.runAs ? { runAs: e.runAs ?? null } : {}),
          }
        : undefined;
    if (config) details.push('command, env, cwd, readiness, logs or running as changed: takes effect at the next start');
    const policy =
      e && cur && canon([cur.restartPolicy, cur.stopPolicy, cur.group, cur.requires]) !== canon([e.restartPolicy, e.stopPolicy, e.group, e.requires])
        ? { restartPolicy: e.restartPolicy!, stopPolicy: e.stopPolicy!, group: e.group ?? null, requires: e.requires ?? [] }
        : undefined;
    if (policy) details.push('restart, stop, group or requires changed');
    if (!conditions && !config && !policy && spent.length === spentNow.length && cur) {
      plan.changes.push({ entity: d.name, change: 'unchanged', details: [] });
      continue;
    }
    plan.changes.push({ entity: d.name, change: cur ? 'updated' : 'created', details });
    const update: EntityUpdate = { name: d.name };
    if (conditions) update.conditions = conditions;
    if (spent.length !== spentNow.length) update.spent = spent;
    if (config) update.config = config;
    if (policy) update.policy = policy;
    plan.updates.push(update);
  }
  return { ok: true, plan };
}
