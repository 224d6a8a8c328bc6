// An entity's lifecycle as one value. The store still keeps it as the fields
// older hams wrote (`state`, `desired`, `held`, `restarting`, `restartPending`,
// `awaiting`, `restartAt`), so a store written by any ham reads the same:
// `lifeOf` reads those fields into one `Life` (every combination, old or odd,
// maps to exactly one), `lifeFields` writes a `Life` back. The transitions are
// in lifecycle-table.ts. The keeper reference (`keeper`) stays a field: it is
// the link to a process (pid, serial, records read), data every state may
// hold, not a state of its own.
import type { EntityRecord, EntityState } from '../model/records.js';

/** Why an entity is held stopped: its group restarts, or something it requires is down. It comes back by itself. */
export type HoldReason = 'group' | 'requires';

/** What a dead entity waits for: nothing, the decision of a restart action that fired, or a restart due at `at` (epoch ms). */
export type RestartPlan = 'none' | 'undecided' | { at: number };

/**
 * `parked`: the death record (keeper seq) the entity's keeper waits on for a
 * decision (restart or exit); null when no keeper waits.
 */
export type Life =
  /** Declared, never started: a placeholder, the global entity. */
  | { tag: 'idle' }
  /** A keeper is starting the command (`restart`: the start counts as a restart); `via`: the death record its keeper was told to restart from. */
  | { tag: 'starting'; restart: boolean; via: number | null }
  | { tag: 'running' }
  | { tag: 'dead'; parked: number | null; restart: RestartPlan }
  /** Asked to stop, its process still there (`started`: it runs; else it is still starting); `then`: stopped for good, or held. */
  | { tag: 'stopping'; started: boolean; restart: boolean; via: number | null; then: 'stopped' | HoldReason }
  | { tag: 'stopped'; parked: number | null }
  | { tag: 'held'; why: HoldReason; parked: number | null }
  /** Escalated (more restarts than its intensity allows): nothing restarts it but `ham reset`. */
  | { tag: 'failed'; parked: number | null };

export type LifeTag = Life['tag'];
export const LIFE_TAGS = ['idle', 'starting', 'running', 'dead', 'stopping', 'stopped', 'held', 'failed'] as const satisfies readonly LifeTag[];
export type LifeOf<T extends LifeTag> = Extract<Life, { tag: T }>;

/** The fields that hold the lifecycle in the store. */
export type LifeFields = Pick<EntityRecord, 'state' | 'desired' | 'held' | 'restarting' | 'restartPending' | 'awaiting' | 'restartAt'>;

/** The lifecycle the stored fields describe (written by this ham or an older one). */
export function lifeOf(f: LifeFields): Life {
  const parked = f.awaiting ?? null;
  const stopped = f.desired === 'stopped';
  const held = f.held === 'group' || f.held === 'requires' ? f.held : null;
  switch (f.state) {
    case 'starting':
    case 'running': {
      const started = f.state === 'running';
      const restart = !started && f.restarting === true;
      if (stopped) return { tag: 'stopping', started, restart, via: started ? null : parked, then: held ?? 'stopped' };
      return started ? { tag: 'running' } : { tag: 'starting', restart, via: parked };
    }
    case 'dead':
      if (stopped) return held ? { tag: 'held', why: held, parked } : { tag: 'stopped', parked };
      if (f.restartAt !== null && f.restartAt !== undefined) return { tag: 'dead', parked, restart: { at: f.restartAt } };
      return { tag: 'dead', parked, restart: f.restartPending ? 'undecided' : 'none' };
    case 'failed':
      return { tag: 'failed', parked };
    case 'stopped':
    default:
      if (held) return { tag: 'held', why: held, parked };
      return stopped ? { tag: 'stopped', parked } : parked === null ? { tag: 'idle' } : { tag: 'stopped', parked };
  }
}

/** The stored fields of a lifecycle (what `lifeOf` reads back as the same `Life`). */
export function lifeFields(l: Life): LifeFields {
  const base: LifeFields = { state: 'stopped', desired: 'running', held: null, restarting: false, restartPending: false, awaiting: null, restartAt: null };
  switch (l.tag) {
    case 'idle':
      return base;
    case 'starting':
      return { ...base, state: 'starting', restarting: l.restart, awaiting: l.via };
    case 'running':
      return { ...base, state: 'running' };
    case 'dead':
      return {
        ...base,
        state: 'dead',
        awaiting: l.parked,
        restartPending: l.restart !== 'none',
        restartAt: typeof l.restart === 'object' ? l.restart.at : null,
      };
    case 'stopping':
      return {
        ...base,
        state: l.started ? 'running' : 'starting',
        desired: 'stopped',
        held: l.then === 'stopped' ? null : l.then,
        restarting: l.restart,
        awaiting: l.via,
      };
    case 'stopped':
      return { ...base, desired: 'stopped', awaiting: l.parked };
    case 'held':
      return { ...base, desired: 'stopped', held: l.why, awaiting: l.parked };
    case 'failed':
      return { ...base, state: 'failed', awaiting: l.parked };
  }
}

/** Write `l` into a record's lifecycle fields. */
export function setLife(x: LifeFields, l: Life): void {
  Object.assign(x, lifeFields(l));
}

/** The `state` of `ham status` (DESIGN.md's contract) for a lifecycle. */
export function viewState(l: Life): EntityState {
  return lifeFields(l).state;
}

/** A keeper waits on a death record for a decision (restart or exit). */
export function parkedOf(l: Life): number | null {
  return 'parked' in l ? l.parked : null;
}

/** A process is there (or about to be): what a stop must stop. */
export function hasProcess(l: Life): boolean {
  return l.tag === 'running' || l.tag === 'starting' || l.tag === 'stopping';
}

/** A restart is coming or being decided: its keeper must not be let go. */
export function restartComing(l: Life): boolean {
  return l.tag === 'dead' && l.restart !== 'none';
}
