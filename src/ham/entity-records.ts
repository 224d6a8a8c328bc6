// Entity records as the supervisor creates them: what `attach` and `apply`
// declare, a blank record for it, and the global entity `*`.
import { GLOBAL, DEFAULT_STOP_POLICY, type EntityRecord, type RestartPolicy, type StopPolicy } from '../store/types.js';
import { DEFAULT_RESTART_POLICY } from './backoff.js';
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
  return {
    id,
    name: n.name,
    kind: n.kind,
    argv: n.argv,
    env: n.env,
    cwd: n.cwd,
    enabled: true,
    conditions: n.conditions,
    userState: null,
    heartbeat: null,
    health: null,
    healthFailing: null,
    healthFailures: 0,
    heartbeatState: 'ok',
    saved: null,
    desired: 'running',
    state: n.kind === 'placeholder' ? 'stopped' : 'starting',
    pid: null,
    pidStart: null,
    keeper: null,
    keeperSerial: 0,
    awaiting: null,
    restarting: false,
    restartPending: false,
    failedStartAt: null,
    restartAt: null,
    backoffMs: 0,
    restartPolicy: n.restartPolicy ?? DEFAULT_RESTART_POLICY,
    stopPolicy: n.stopPolicy ?? DEFAULT_STOP_POLICY,
    restartTimes: [],
    group: n.group ?? null,
    requires: n.requires ?? [],
    held: null,
    lastUptimeMs: null,
    instance: 0,
    restarts: 0,
    deaths: 0,
    lastExit: null,
    lastError: null,
    startedAt: null,
    diedAt: null,
    createdAt: Date.now(),
  };
}

/** The global entity `*`, created on first use (its conditions match every entity). */
export function createGlobal(core: SupervisorCore): EntityRecord {
  return core.write(() => {
    const have = core.store.entity(GLOBAL);
    if (have) return have;
    const g: EntityRecord = { ...blankEntity({ name: GLOBAL, kind: 'placeholder', argv: [], env: {}, cwd: core.paths.root, conditions: [] }, 0), kind: 'global', state: 'stopped' };
    core.store.putEntity(g);
    return g;
  });
}
