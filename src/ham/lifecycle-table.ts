// The lifecycle table: for every state and every event, the next state, the
// effects to carry out after the transaction and the occurrences to fire in
// it, or an explicit 'ignore' (nothing changes, nothing is done). The type
// makes a missing (state, event) pair a compile error. Pure: no store, no
// process, no clock (times come in the events).
import { isAbnormal } from './conditions.js';
import type { Effect, EventOf, ExitInfo, EventTag, LifeContext, LifeEvent, LifeOccurrence, Step } from './lifecycle-events.js';
import type { HoldReason, Life, LifeOf, LifeTag } from '../model/life.js';
import { adoptedLife, settledLife } from './lifecycle.js';
import { launch, release, step } from './lifecycle-steps.js';
import { ASK } from './lifecycle-requests.js';

type Handler<S extends LifeTag, E extends EventTag> = (life: LifeOf<S>, ev: EventOf<E>, ctx: LifeContext) => Step | 'ignore';
export type LifeTable = { [S in LifeTag]: { [E in EventTag]: Handler<S, E> | 'ignore' } };

const deathOf = (exit: ExitInfo): LifeOccurrence => ({ type: isAbnormal(exit) ? 'abnormal-death' : 'death', decidesRestart: true });
const UNKNOWN_EXIT: ExitInfo = { code: null, signal: null, core: false };

const watch = (): Step => step('same', [{ kind: 'watch-keeper' }]);

/** Its command runs: ready at once, or (it has a readiness probe) once the probe answers. */
const runningLife = (ctx: LifeContext): Life => (ctx.probed ? { tag: 'running', unready: true } : { tag: 'running' });
const probing = (ctx: LifeContext): Effect[] => (ctx.probed ? [{ kind: 'probe-readiness' }] : []);

/** S: the command runs; a restart counts and fires `restart`. */
function execd(restart: boolean, next: Life, extra: Effect[] = []): Step {
  return step(next, [...extra, { kind: 'settled' }], restart ? [{ type: 'restart' }] : [], restart ? ['instance', 'restarts'] : ['instance']);
}

/** The keeper died after the command forked: it runs (counted as S would), a new keeper adopts it. */
function adopted(restart: boolean, next: Life, extra: Effect[] = []): Step {
  return step(
    next,
    [{ kind: 'spawn-keeper', restart: false, adopt: true }, ...extra],
    restart ? [{ type: 'restart' }] : [],
    restart ? ['instance', 'restarts'] : ['instance'],
  );
}

/** X (or an unseen death) of a process that was meant to run: dead, its death conditions decide about a restart. */
function died(seq: number | null, exit: ExitInfo, effects: Effect[]): Step {
  return step(
    { tag: 'dead', parked: seq, restart: 'none' },
    [{ kind: 'forget-health' }, { kind: 'untrack-heartbeats' }, ...release(seq), ...effects],
    [deathOf(exit)],
    ['death', 'process-gone'],
  );
}

/** X of a process we asked to stop: not a death. Stopped for good (kept, if by name), or held; its beats no longer watched. */
function stoppedBy(l: LifeOf<'stopping'>, seq: number | null, effects: Effect[]): Step {
  return step(settledLife(l, seq), [{ kind: 'forget-health' }, { kind: 'untrack-heartbeats' }, ...release(seq), ...effects], [], ['exit', 'process-gone']);
}

/** `ham restart NAME`: its process exited as asked; started again (through the keeper parked on `seq`, if one), not a death. Its next instance's beats are watched from its first. */
function restartedBy(seq: number | null): Step {
  const s = launch(false, seq, seq !== null, [{ kind: 'forget-health' }, { kind: 'untrack-heartbeats' }]);
  return { ...s, marks: [...s.marks, 'exit', 'process-gone'] };
}

const detach = (): Step =>
  step(
    'removed',
    [{ kind: 'untrack-heartbeats' }, { kind: 'forget-health' }, { kind: 'cancel-restart' }, { kind: 'detach-keeper' }, { kind: 'remove' }],
    [{ type: 'detach' }],
  );
const kill = (): Step => step('same', [{ kind: 'signal', signal: 'SIGKILL' }]);
/** The keeper gone where no process runs: nothing lost if it had been told to exit, else the coordinator hears of it. */
const keeperLeft = (l: LifeOf<'dead' | 'stopped' | 'held' | 'failed'>, ev: EventOf<'keeper-gone'>): Step =>
  step(
    { ...l, parked: null } as Life,
    ev.dismissed
      ? []
      : [
          ...(l.tag === 'dead' && typeof l.restart === 'object' ? [{ kind: 'schedule-restart' as const, at: l.restart.at }] : []),
          { kind: 'settled' },
          { kind: 'down' },
        ],
  );
/** An exit reported where nothing should run (stopped, held, failed): its keeper is let go. */
const exitWhileDown = (l: LifeOf<'stopped' | 'held' | 'failed'>, ev: EventOf<'X'>): Step =>
  step({ ...l, parked: ev.seq } as Life, [...release(ev.seq), { kind: 'down' }], [], ['exit', 'process-gone']);
/** A restart given up where nothing runs: a keeper parked on the death is let go. */
const releaseParked = (l: LifeOf<'stopped' | 'held' | 'failed'>): Step | 'ignore' => (l.parked === null ? 'ignore' : step('same', release(l.parked)));
/** Held instead of started where nothing runs: a keeper parked on a death is let go (no restart is coming now). */
const heldInstead = (why: HoldReason, parked: number | null): Step => step({ tag: 'held', why, parked }, [{ kind: 'cancel-restart' }, ...release(parked)]);
/** Held instead of started, but a keeper may be starting it (it has one): stopped as a hold stops it. */
const holdRunning =
  <S extends 'starting' | 'running' | 'stopping'>(hold: Handler<S, 'hold'>): Handler<S, 'hold-instead'> =>
  (l, ev, ctx) =>
    hold(l, { tag: 'hold', why: ev.why }, ctx);
/** A hold stops what runs (or is starting): held once it exited. */
const startingHold: Handler<'starting', 'hold'> = (l, ev) =>
  step({ tag: 'stopping', started: false, restart: l.restart, via: l.via, then: ev.why }, [{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }]);
const runningHold: Handler<'running', 'hold'> = (_l, ev) =>
  step({ tag: 'stopping', started: true, restart: false, via: null, then: ev.why }, [{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }]);
/** A hold during a stop: held where it ends (a restart by name gives way to it), unless stopped by name (it stays stopped). */
const stoppingHold: Handler<'stopping', 'hold'> = (l, ev) => {
  if (l.request === 'stop') return 'ignore';
  const { request: _dropped, ...rest } = l;
  return step({ ...rest, then: ev.why }, [{ kind: 'signal', signal: 'stop' }]);
};
/** A process attached itself: the next instance runs (still being stopped, if a stop or hold was under way). */
const selfAttach = (l: Life): Step => step(adoptedLife(l), [], [{ type: 'attach' }], ['instance']);

export const LIFECYCLE: LifeTable = {
  idle: {
    K: watch,
    P: 'ignore',
    S: 'ignore',
    F: 'ignore',
    X: 'ignore',
    'keeper-gone': 'ignore',
    'conn-closed': 'ignore',
    'restart-decided': 'ignore',
    'restart-given-up': 'ignore',
    'restart-due': 'ignore',
    hold: 'ignore',
    'hold-instead': (_l, ev) => heldInstead(ev.why, null),
    release: (_l, ev, ctx) => (ctx.hasCommand ? launch(ev.restart, null, false) : 'ignore'),
    reset: 'ignore',
    stop: 'ignore',
    ...ASK.idle,
    'stop-timeout': 'ignore',
    detach,
    attach: () => step({ tag: 'starting', restart: false, via: null }, [], [{ type: 'attach' }]),
    'self-attach': selfAttach,
    'health-kill': 'ignore',
    ready: 'ignore',
    'not-ready': 'ignore',
  },
  starting: {
    K: watch,
    P: 'ignore',
    S: (l, _ev, ctx) => execd(l.restart, runningLife(ctx), probing(ctx)),
    F: (_l, ev) => step({ tag: 'dead', parked: ev.seq, restart: 'none' }, [...release(ev.seq), { kind: 'settled' }], [], ['start-failed', 'process-gone']),
    // Records come in order (S before X): a death before S is a start that ran and ended.
    X: (_l, ev) => died(ev.seq, ev.exit, [{ kind: 'down' }]),
    'keeper-gone': (l, ev, ctx) =>
      ev.orphan
        ? // It had forked the command (P) but not reported the exec: the command runs; a new keeper adopts it.
          adopted(l.restart, runningLife(ctx), probing(ctx))
        : // Nothing forked: this start failed. A restart that lost its keeper is tried again now, by a new
          // keeper, once: a second loss in a row ends it (no backoff or intensity counts these retries).
          step(
            { tag: 'dead', parked: null, restart: l.restart && ev.retry !== false ? { at: ev.now } : 'none' },
            [...(l.restart && ev.retry !== false ? [{ kind: 'schedule-restart' as const, at: ev.now }] : []), { kind: 'settled' }, { kind: 'down' }],
            [],
            ['start-failed', 'process-gone'],
          ),
    'conn-closed': 'ignore',
    'restart-decided': 'ignore',
    'restart-given-up': 'ignore',
    'restart-due': 'ignore',
    hold: startingHold,
    'hold-instead': (l, ev, ctx) => (ev.keeperless ? heldInstead(ev.why, l.via) : holdRunning(startingHold)(l, ev, ctx)),
    release: 'ignore',
    reset: 'ignore',
    stop: (l) =>
      step({ tag: 'stopping', started: false, restart: l.restart, via: l.via, then: 'stopped' }, [
        { kind: 'cancel-restart' },
        { kind: 'signal', signal: 'stop' },
      ]),
    ...ASK.starting,
    'stop-timeout': 'ignore',
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': 'ignore',
    ready: 'ignore',
    'not-ready': 'ignore',
  },
  running: {
    K: watch,
    P: 'ignore',
    S: (_l, _ev, ctx) => execd(false, runningLife(ctx), probing(ctx)),
    F: 'ignore',
    X: (_l, ev) => died(ev.seq, ev.exit, [{ kind: 'down' }]),
    'keeper-gone': (_l, ev) =>
      ev.orphan ? step('same', [{ kind: 'spawn-keeper', restart: false, adopt: true }]) : died(null, UNKNOWN_EXIT, [{ kind: 'settled' }, { kind: 'down' }]),
    // A live self-attached process that hung up: its death (as in QNX); its keeper reports the exit later.
    'conn-closed': (_l, ev, ctx) => (ev.alive && ctx.kind === 'self' ? died(null, UNKNOWN_EXIT, []) : 'ignore'),
    'restart-decided': 'ignore',
    'restart-given-up': 'ignore',
    'restart-due': 'ignore',
    hold: runningHold,
    'hold-instead': holdRunning(runningHold),
    release: 'ignore',
    reset: 'ignore',
    stop: () =>
      step({ tag: 'stopping', started: true, restart: false, via: null, then: 'stopped' }, [{ kind: 'cancel-restart' }, { kind: 'signal', signal: 'stop' }]),
    ...ASK.running,
    'stop-timeout': 'ignore',
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': kill,
    // The probe answered: ready (dependants and the next of its group start now).
    ready: (l) => (l.unready ? step({ tag: 'running' }, [{ kind: 'settled' }], [{ type: 'ready' }], ['ready']) : 'ignore'),
    // Not ready in time: stopped as a failed start; the exit that follows is its death (its conditions decide).
    'not-ready': (l, ev) => (l.unready ? step('same', [{ kind: 'signal', signal: ev.kill ? 'SIGKILL' : 'stop' }], [], ev.kill ? [] : ['not-ready']) : 'ignore'),
  },
  dead: {
    K: watch,
    P: 'ignore',
    S: 'ignore',
    F: 'ignore',
    // A self-attached entity whose connection closed: that was the death; its keeper now reports the exit.
    X: (l, ev, ctx) =>
      ctx.kind === 'self'
        ? step({ ...l, parked: ev.seq }, [...(l.restart === 'none' ? release(ev.seq) : []), { kind: 'down' }], [], ['process-gone'])
        : died(ev.seq, ev.exit, [{ kind: 'down' }]),
    // A restart due stays due: it comes through a new keeper.
    'keeper-gone': keeperLeft,
    'conn-closed': 'ignore',
    // Decided once per death: a takeover re-reads the decision, never re-counts it.
    'restart-decided': (l, ev) =>
      typeof l.restart === 'object'
        ? 'ignore'
        : ev.over
          ? step({ tag: 'failed', parked: l.parked }, release(l.parked), [{ type: 'escalate' }], ['escalated'])
          : step({ ...l, restart: { at: ev.at } }, [{ kind: 'schedule-restart', at: ev.at }]),
    'restart-given-up': (l) => step({ ...l, restart: 'none' }, release(l.parked)),
    'restart-due': (l, ev) => {
      if (typeof l.restart !== 'object') return 'ignore';
      if (!ev.requirementsUp) return step({ tag: 'held', why: 'requires', parked: l.parked }, [{ kind: 'cancel-restart' }, ...release(l.parked)]);
      if (ev.groupBusy) return step('same', [{ kind: 'retry-restart' }]);
      if (ev.takesAlong) return step('same', [{ kind: 'group-restart' }]);
      return launch(true, l.parked, ev.keeperParked);
    },
    hold: (l, ev) => step({ tag: 'held', why: ev.why, parked: l.parked }, [{ kind: 'cancel-restart' }, ...release(l.parked)]),
    'hold-instead': (l, ev) => heldInstead(ev.why, l.parked),
    release: (l, ev, ctx) => (ctx.hasCommand ? launch(ev.restart, l.parked, ev.keeperParked, [{ kind: 'cancel-restart' }]) : 'ignore'),
    reset: (l, ev, ctx) =>
      ctx.hasCommand ? step({ tag: 'dead', parked: l.parked, restart: { at: ev.now } }, [{ kind: 'schedule-restart', at: ev.now }], [], ['reset']) : 'ignore',
    stop: (l) => (l.restart === 'none' ? 'ignore' : step({ tag: 'stopped', parked: l.parked }, [{ kind: 'cancel-restart' }, ...release(l.parked)])),
    ...ASK.dead,
    'stop-timeout': 'ignore',
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': 'ignore',
    ready: 'ignore',
    'not-ready': 'ignore',
  },
  stopping: {
    K: watch,
    P: 'ignore',
    // It runs now, and was asked to stop meanwhile: the stop signal goes now.
    S: (l) => execd(l.restart, { ...l, started: true, restart: false, via: null }, [{ kind: 'signal', signal: 'stop' }]),
    F: (l, ev) => (l.started ? 'ignore' : step(settledLife(l, ev.seq), [...release(ev.seq), { kind: 'settled' }], [], ['start-failed', 'process-gone'])),
    X: (l, ev, ctx) => (l.request === 'restart' && ctx.hasCommand ? restartedBy(ev.seq) : stoppedBy(l, ev.seq, [{ kind: 'down' }])),
    'keeper-gone': (l, ev, ctx) => {
      if (ev.orphan)
        return l.started
          ? step('same', [{ kind: 'spawn-keeper', restart: false, adopt: true }])
          : // The stop signal went to the forked keeper copy, which ignores it until it execs (as S does, again now).
            adopted(l.restart, { ...l, started: true, restart: false, via: null }, [{ kind: 'signal', signal: 'stop' }]);
      if (l.started && l.request === 'restart' && ctx.hasCommand) return restartedBy(null);
      if (l.started) return stoppedBy(l, null, [{ kind: 'settled' }, { kind: 'down' }]);
      return step(settledLife(l, null), [{ kind: 'settled' }, { kind: 'down' }], [], ['start-failed', 'process-gone']);
    },
    'conn-closed': (l, ev, ctx) => (l.started && ev.alive && ctx.kind === 'self' ? stoppedBy(l, null, []) : 'ignore'),
    'restart-decided': 'ignore',
    'restart-given-up': 'ignore',
    'restart-due': 'ignore',
    hold: stoppingHold,
    'hold-instead': holdRunning(stoppingHold),
    release: 'ignore',
    reset: 'ignore',
    // Asked again (`ham stop --all` during a hold's stop): the signal again, the hold stays; a restart by name gives way (a stop by name stays).
    stop: (l) => {
      if (l.request !== 'restart') return step('same', [{ kind: 'signal', signal: 'stop' }]);
      const { request: _dropped, ...rest } = l;
      return step(rest, [{ kind: 'signal', signal: 'stop' }]);
    },
    // Started or not: a forked command that has not exec'd yet is killed too.
    ...ASK.stopping,
    'stop-timeout': () => step('same', [{ kind: 'signal', signal: 'SIGKILL' }]),
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': (l) => (l.started ? step('same', [{ kind: 'signal', signal: 'SIGKILL' }]) : 'ignore'),
    ready: 'ignore',
    'not-ready': 'ignore',
  },
  stopped: {
    K: watch,
    P: 'ignore',
    S: 'ignore',
    F: 'ignore',
    X: exitWhileDown,
    'keeper-gone': keeperLeft,
    'conn-closed': 'ignore',
    'restart-decided': 'ignore',
    'restart-given-up': releaseParked,
    'restart-due': 'ignore',
    // Stopped by name (kept): neither a hold nor its end starts it; only `ham start NAME` does.
    hold: (l, ev) => (l.kept ? 'ignore' : step({ tag: 'held', why: ev.why, parked: l.parked })),
    'hold-instead': (l, ev) => (l.kept ? releaseParked(l) : heldInstead(ev.why, l.parked)),
    release: (l, ev, ctx) => (ctx.hasCommand && !l.kept ? launch(ev.restart, null, false) : 'ignore'),
    reset: 'ignore',
    stop: 'ignore',
    ...ASK.stopped,
    'stop-timeout': 'ignore',
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': 'ignore',
    ready: 'ignore',
    'not-ready': 'ignore',
  },
  held: {
    K: watch,
    P: 'ignore',
    S: 'ignore',
    F: 'ignore',
    X: exitWhileDown,
    'keeper-gone': keeperLeft,
    'conn-closed': 'ignore',
    'restart-decided': 'ignore',
    'restart-given-up': releaseParked,
    'restart-due': 'ignore',
    hold: (l, ev) => (l.why === ev.why ? 'ignore' : step({ ...l, why: ev.why })),
    'hold-instead': (l, ev) => heldInstead(ev.why, l.parked),
    release: (_l, ev, ctx) => (ctx.hasCommand ? launch(ev.restart, null, false) : 'ignore'),
    reset: 'ignore',
    stop: 'ignore',
    ...ASK.held,
    'stop-timeout': 'ignore',
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': 'ignore',
    ready: 'ignore',
    'not-ready': 'ignore',
  },
  failed: {
    K: watch,
    P: 'ignore',
    S: 'ignore',
    F: 'ignore',
    X: exitWhileDown,
    'keeper-gone': keeperLeft,
    'conn-closed': 'ignore',
    'restart-decided': 'ignore',
    'restart-given-up': releaseParked,
    'restart-due': 'ignore',
    hold: 'ignore',
    'hold-instead': releaseParked,
    release: 'ignore',
    reset: (l, ev, ctx) =>
      ctx.hasCommand ? step({ tag: 'dead', parked: l.parked, restart: { at: ev.now } }, [{ kind: 'schedule-restart', at: ev.now }], [], ['reset']) : 'ignore',
    stop: 'ignore',
    ...ASK.failed,
    'stop-timeout': 'ignore',
    detach,
    attach: 'ignore',
    'self-attach': selfAttach,
    'health-kill': 'ignore',
    ready: 'ignore',
    'not-ready': 'ignore',
  },
};

export type Outcome = Omit<Step, 'next'> & { next: Life | 'removed' };

/** The outcome of `ev` in `life`: null when the table says 'ignore'. */
export function transition(life: Life, ev: LifeEvent, ctx: LifeContext): Outcome | null {
  const row = LIFECYCLE[life.tag] as Record<EventTag, Handler<LifeTag, EventTag> | 'ignore'>;
  const h = row[ev.tag];
  if (h === 'ignore') return null;
  const s = (h as (l: Life, e: LifeEvent, c: LifeContext) => Step | 'ignore')(life, ev, ctx);
  if (s === 'ignore') return null;
  return { ...s, next: s.next === 'same' ? life : s.next };
}

/**
 * After the death's conditions fired: a restart action among them decides
 * (the death is `undecided` and its keeper waits for the decision).
 */
export function withRestartDecision(s: Outcome, restartFired: boolean): Outcome {
  if (!restartFired || s.next === 'removed' || s.next.tag !== 'dead' || s.next.restart !== 'none') return s;
  if (!s.occurrences.some((o) => o.decidesRestart)) return s;
  return { ...s, next: { ...s.next, restart: 'undecided' }, effects: s.effects.filter((e) => e.kind !== 'release-keeper') };
}
