// Entity records as the supervisor creates them: what `attach` and `apply`
// declare, a blank record for it, and the global entity `*`.
import { entityDefaults } from '../model/defaults.js';
import type { ReadinessSpec } from '../model/readiness.js';
import type { RunAs } from '../model/runas.js';
import { GLOBAL, type EntityRecord, type LogPolicy, type RestartPolicy, type StopPolicy } from '../model/records.js';
import type { SupervisorCore } from './supervisor-core.js';

/** What `attach` creates: a process the HAM spawns, one it adopts, or a name to fill later. */
export interface NewEntity {
  name: string;
  kind: 'spawned' | 'pid' | 'self' | 'placeholder';
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  pid?: number;
  conditions: EntityRecord['conditions'];
  restartPolicy?: RestartPolicy;
  stopPolicy?: StopPolicy;
  group?: string | null;
  requires?: string[];
  readiness?: ReadinessSpec | null;
  logs?: LogPolicy;
  runAs?: RunAs | null;
}

export function blankEntity(n: NewEntity, id: number): EntityRecord {
  const d = entityDefaults();
  return {
    ...d,
    id,
    name: n.name,
    kind: n.kind,
    argv: n.argv,
    env: n.env,
    cwd: n.cwd,
    conditions: n.conditions,
    life: { tag: 'idle' }, // the table's attach starts it
    restartPolicy: n.restartPolicy ?? d.restartPolicy,
    stopPolicy: n.stopPolicy ?? d.stopPolicy,
    group: n.group ?? d.group,
    requires: n.requires ?? d.requires,
    ...(n.readiness ? { readiness: n.readiness } : {}),
    logs: n.logs ?? d.logs,
    ...(n.runAs ? { runAs: n.runAs } : {}),
    createdAt: Date.now(),
  };
}

/**
 * A placeholder filled by `attach` or `apply`: what it runs, its policies
 * (kept where `n` names none), and `n.conditions` as its conditions (the
 * caller decides them: attach adds its own to the placeholder's, apply's plan
 * has the file's). Its counters, saved state and lifecycle (a placeholder's is
 * idle) stay: the table's attach starts it.
 */
export function fillPlaceholder(old: EntityRecord, n: NewEntity): EntityRecord {
  return {
    ...old,
    kind: n.kind,
    argv: n.argv,
    env: n.env,
    cwd: n.cwd,
    conditions: n.conditions,
    restartPolicy: n.restartPolicy ?? old.restartPolicy,
    stopPolicy: n.stopPolicy ?? old.stopPolicy,
    group: n.group ?? old.group,
    requires: n.requires ?? old.requires,
    readiness: n.readiness ?? null,
    logs: n.logs ?? old.logs,
    runAs: n.runAs ?? null,
  };
}

/** The global entity `*`, created on first use (its conditions match every entity). */
export function createGlobal(core: SupervisorCore): EntityRecord {
  return core.write(() => {
    const have = core.store.entity(GLOBAL);
    if (have) return have;
    const g: EntityRecord = {
      ...blankEntity({ name: GLOBAL, kind: 'placeholder', argv: [], env: {}, cwd: core.paths.root, conditions: [] }, 0),
      kind: 'global',
      life: { tag: 'idle' },
    };
    core.store.putEntity(g);
    return g;
  });
}
