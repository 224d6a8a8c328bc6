// The lifecycle as the core uses it: the union and its readers live in the
// model (model/life.ts, what the store holds); here what the supervisor asks
// of it besides. The transitions are in lifecycle-table.ts.
import { holdOf, keptStopped, stopWanted, type ByNameStop, type Life, type LifeOf, type LifeTag } from '../model/life.js';

export {
  awaitingOf,
  holdOf,
  keptStopped,
  lifeFields,
  lifeOf,
  processRuns,
  readyOf,
  restartAtOf,
  restartComing,
  restartingOf,
  stopWanted,
  unreadyOf,
  viewState,
  type ByNameStop,
  type HoldReason,
  type Life,
  type LifeFields,
  type LifeOf,
  type LifeTag,
  type RestartPlan,
} from '../model/life.js';

export const LIFE_TAGS = ['idle', 'starting', 'running', 'dead', 'stopping', 'stopped', 'held', 'failed'] as const satisfies readonly LifeTag[];

/** A keeper waits on a death record for a decision (restart or exit). */
export function parkedOf(l: Life): number | null {
  return 'parked' in l ? l.parked : null;
}

/** A process is there (or about to be): what a stop must stop. */
export function hasProcess(l: Life): boolean {
  return l.tag === 'running' || l.tag === 'starting' || l.tag === 'stopping';
}

// A new keeper's start (spawning.ts) outside the table's events: what it writes.

/** A new keeper adopts the running process: it runs (still being stopped, if a stop or hold was under way; still not ready, if it was not). */
export function adoptedLife(l: Life): Life {
  if (stopWanted(l)) return { tag: 'stopping', started: true, restart: false, via: null, then: holdOf(l) ?? 'stopped', ...requestOf(l) };
  return l.tag === 'running' ? l : { tag: 'running' };
}

/** A new keeper starts the command: starting (a start ends a hold; asked to stop meanwhile, it is stopped once it runs). */
export function spawningLife(l: Life, restart: boolean): Life {
  return stopWanted(l) ? { tag: 'stopping', started: false, restart, via: null, then: 'stopped', ...requestOf(l) } : { tag: 'starting', restart, via: null };
}

/** A stop asked by name, carried over to the next state of a stop (`ham stop NAME` stays stopped). */
function requestOf(l: Life): { request?: ByNameStop } {
  if (l.tag === 'stopping' && l.request) return { request: l.request };
  return l.tag === 'stopped' && l.kept ? { request: 'stop' } : {};
}

/** Where a stop ends: stopped (kept, if asked by name with `ham stop NAME`), or held. */
export function settledLife(l: LifeOf<'stopping'>, parked: number | null): Life {
  if (l.then !== 'stopped') return { tag: 'held', why: l.then, parked };
  return l.request === 'stop' ? { tag: 'stopped', parked, kept: true } : { tag: 'stopped', parked };
}

/** The keeper could not be started: the start failed (a stop under way ends). */
export function keeperFailedLife(l: Life): Life {
  if (l.tag === 'starting') return { tag: 'dead', parked: l.via, restart: 'none' };
  if (l.tag === 'stopping') return settledLife(l, l.via);
  return l;
}

/** Wanted running again (`ham start` after `stop --all`; a self-attached entity is not ours to stop): a stop under way is dropped. */
export function unstoppedLife(l: Life): Life {
  if (keptStopped(l)) return l; // stopped by name: it stays stopped
  if (l.tag === 'stopping') return l.started ? { tag: 'running' } : { tag: 'starting', restart: l.restart, via: l.via };
  return l.tag === 'stopped' && l.parked === null ? { tag: 'idle' } : l;
}
