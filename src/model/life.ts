// An entity's lifecycle as one value: what the store keeps (`EntityRecord.life`).
// Each variant holds what belongs to it: the death record a keeper waits on
// (`parked`), the one a restart was commanded from (`via`), why it is held,
// when a restart is due. The transitions are in ham/lifecycle-table.ts. The
// keeper reference (`EntityRecord.keeper`) stays beside it: the link to a
// process (pid, serial, records read), which a record in any state may hold.

/** Why an entity is held stopped: its group restarts, or something it requires is down. It comes back by itself. */
export type HoldReason = 'group' | 'requires';

/** What a stop asked by name leads to: stopped for good (`ham stop NAME`), or started again (`ham restart NAME`). */
export type ByNameStop = 'stop' | 'restart';

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
  /** Its command runs; `unready`: it has a readiness probe that has not answered yet (shown as `starting`). */
  | { tag: 'running'; unready?: true }
  | { tag: 'dead'; parked: number | null; restart: RestartPlan }
  /**
   * Asked to stop, its process still there (`started`: it runs; else it is still starting); `then`: stopped for good, or held.
   * `request`: asked by name (`ham stop NAME`: stays stopped; `ham restart NAME`: started again once it exited).
   */
  | { tag: 'stopping'; started: boolean; restart: boolean; via: number | null; then: 'stopped' | HoldReason; request?: ByNameStop }
  /** `kept`: stopped by `ham stop NAME`: it stays stopped (across takeovers and `ham stop`/`ham start` of the pair) until `ham start NAME`. */
  | { tag: 'stopped'; parked: number | null; kept?: true }
  | { tag: 'held'; why: HoldReason; parked: number | null }
  /** Escalated (more restarts than its intensity allows): nothing restarts it but `ham reset`. */
  | { tag: 'failed'; parked: number | null };

export type LifeTag = Life['tag'];
export type LifeOf<T extends LifeTag> = Extract<Life, { tag: T }>;

/** The `state` of `ham status` (DESIGN.md's wire contract). */
export type EntityState = 'starting' | 'running' | 'dead' | 'stopped' | 'failed';

/** The eight fields (less the keeper) in which hams before `life` kept the lifecycle, and `status --json` still shows. */
export interface LifeFields {
  state: EntityState;
  desired: 'running' | 'stopped';
  held: HoldReason | null;
  restarting: boolean;
  restartPending: boolean;
  awaiting: number | null;
  restartAt: number | null;
}

/** The lifecycle the fields describe (as an older ham wrote them; every combination, old or odd, maps to exactly one). */
export function lifeOf(f: Partial<LifeFields>): Life {
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

/** The fields of a lifecycle, as older hams stored them and `status` shows them (`lifeOf` reads them back as the same `Life`). */
export function lifeFields(l: Life): LifeFields {
  const base: LifeFields = { state: 'stopped', desired: 'running', held: null, restarting: false, restartPending: false, awaiting: null, restartAt: null };
  switch (l.tag) {
    case 'idle':
      return base;
    case 'starting':
      return { ...base, state: 'starting', restarting: l.restart, awaiting: l.via };
    case 'running':
      return { ...base, state: 'running' }; // `unready` is not among them: an older ham reads it as running
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

// What readers ask of a lifecycle (each the field an older ham stored).

/** The `state` of `ham status`. */
export function viewState(l: Life): EntityState {
  switch (l.tag) {
    case 'idle':
    case 'stopped':
    case 'held':
      return 'stopped';
    case 'stopping':
      return l.started ? 'running' : 'starting';
    case 'running':
      return l.unready ? 'starting' : 'running';
    default:
      return l.tag;
  }
}

/** Its process runs (ready or not): what a restart waits for, what a death's uptime counts. */
export function processRuns(l: Life): boolean {
  return l.tag === 'running' || (l.tag === 'stopping' && l.started);
}

/** Running and ready (the `ready` of `ham status`). */
export function readyOf(l: Life): boolean {
  return l.tag === 'running' && !l.unready;
}

/** Running, its readiness probe not answered yet. */
export function unreadyOf(l: Life): boolean {
  return l.tag === 'running' && l.unready === true;
}

/** Stopped, or being stopped, by `ham stop NAME`: nothing but `ham start NAME` starts it. */
export function keptStopped(l: Life): boolean {
  return (l.tag === 'stopped' && l.kept === true) || (l.tag === 'stopping' && l.request === 'stop');
}

/** Meant to be stopped: being stopped, stopped, or held. */
export function stopWanted(l: Life): boolean {
  return l.tag === 'stopping' || l.tag === 'stopped' || l.tag === 'held';
}

/** Why it is held (being stopped for a hold, or held): null if it is not. */
export function holdOf(l: Life): HoldReason | null {
  if (l.tag === 'held') return l.why;
  return l.tag === 'stopping' && l.then !== 'stopped' ? l.then : null;
}

/** The death record its keeper waits on, or was told to restart from. */
export function awaitingOf(l: Life): number | null {
  if (l.tag === 'starting' || l.tag === 'stopping') return l.via;
  return 'parked' in l ? l.parked : null;
}

/** The start under way counts as a restart. */
export function restartingOf(l: Life): boolean {
  return (l.tag === 'starting' || l.tag === 'stopping') && l.restart;
}

/** A restart is coming or being decided: its keeper must not be let go. */
export function restartComing(l: Life): boolean {
  return l.tag === 'dead' && l.restart !== 'none';
}

/** When a decided restart is due (epoch ms), or null. */
export function restartAtOf(l: Life): number | null {
  return l.tag === 'dead' && typeof l.restart === 'object' ? l.restart.at : null;
}
