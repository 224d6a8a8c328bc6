// `ham status` as data: the JSON contract in DESIGN.md, plus a few extras.
import type { ExitStatus } from '../errors.js';
import type { Store } from '../store/store.js';
import type { EntityRecord, EntityState, Roles } from '../store/types.js';

export interface EntityView {
  name: string;
  kind: EntityRecord['kind'];
  pid: number | null;
  state: EntityState;
  restarts: number;
  deaths: number;
  instance: number;
  lastExit: ExitStatus | null;
  lastError: string | null;
  heartbeat: null;
  conditions: never[];
  argv: string[];
  cwd: string;
  restart: boolean;
  keeperPid: number | null;
  startedAt: string | null;
  restartAt: string | null;
}

export interface StatusView {
  ham: { pid: number | null; epoch: number; failures: number };
  guardian: { pid: number | null; failures: number };
  entities: EntityView[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function entityView(e: EntityRecord): EntityView {
  return {
    name: e.name,
    kind: e.kind,
    pid: e.pid,
    state: e.state,
    restarts: e.restarts,
    deaths: e.deaths,
    instance: e.instance,
    lastExit: e.lastExit,
    lastError: e.lastError,
    heartbeat: null,
    conditions: [],
    argv: e.argv,
    cwd: e.cwd,
    restart: e.restart,
    keeperPid: e.keeper && e.keeper.pid > 0 ? e.keeper.pid : null,
    startedAt: iso(e.startedAt),
    restartAt: iso(e.restartAt),
  };
}

export function statusView(roles: Roles, entities: EntityRecord[]): StatusView {
  return {
    ham: { pid: roles.ham?.pid ?? null, epoch: roles.epoch, failures: roles.hamFailures },
    guardian: { pid: roles.guardian?.pid ?? null, failures: roles.guardianFailures },
    entities: entities.map(entityView),
  };
}

export function readStatus(store: Store, name?: string): StatusView {
  const all = name === undefined ? store.allEntities() : [store.entity(name)].filter((e): e is EntityRecord => e !== undefined);
  return statusView(store.roles(), all);
}
