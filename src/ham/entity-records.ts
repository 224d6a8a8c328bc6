// Entity records as the supervisor creates them: what `attach` and `apply`
// declare, a blank record for it, and the global entity `*`.
import { entityDefaults } from '../model/defaults.js';
import { GLOBAL, type EntityRecord, type RestartPolicy, type StopPolicy } from '../model/records.js';
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
    state: n.kind === 'placeholder' ? 'stopped' : 'starting',
    restartPolicy: n.restartPolicy ?? d.restartPolicy,
    stopPolicy: n.stopPolicy ?? d.stopPolicy,
    group: n.group ?? d.group,
    requires: n.requires ?? d.requires,
    createdAt: Date.now(),
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
      state: 'stopped',
    };
    core.store.putEntity(g);
    return g;
  });
}
