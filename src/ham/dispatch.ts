// From an occurrence to an event and the action lists it fires. Called inside
// the write transaction that records the occurrence, so the event, the
// counters and the runs to do are committed together with it, or not at all.
import type { Logger } from '../log.js';
import type { ActionSpec, EventRecord, Occurrence, RunRecord } from '../model/conditions.js';
import type { Store } from '../store/store.js';
import { GLOBAL, type EntityRecord } from '../model/records.js';
import { enabledActions, kindsIn, matches } from './conditions.js';

/** Actions that are synchronous and cannot fail run inline, inside the transaction. */
const INLINE = new Set(['log', 'notify', 'heartbeat-healthy']);

/**
 * Action lists waiting or running for one entity. Past this (a raise flood on
 * an entity with an execute action), a firing list that holds no restart is
 * not queued once more: its event lists it in `coalesced` (memory and the
 * runs in the store stay bounded; the lists already waiting will run).
 */
export const RUNS_PER_ENTITY = 256;

export interface Fired {
  events: EventRecord[];
  runs: RunRecord[];
  logs: { level: 'debug' | 'info' | 'warn' | 'error'; message: string; fields: Record<string, unknown> }[];
  /** A fired list holds a restart for the entity itself. */
  restart: boolean;
  /** performance.now() when the first occurrence in it was seen. */
  seenAt?: number;
  /** The global entity as read in this transaction (null: there is none). */
  global?: EntityRecord | null;
  /** Entities a heartbeat-healthy ran for (their monitor is reset after commit). */
  healthy?: string[];
}

export function emptyFired(): Fired {
  return { events: [], runs: [], logs: [], restart: false };
}

export class Dispatcher {
  constructor(
    private readonly store: Store,
    private readonly busy: (target: string) => boolean,
    /** Lists waiting or running for an entity (the executor's). */
    private readonly load: (target: string) => number = () => 0,
  ) {}

  /**
   * Record `o` and fire what it matches. Must run inside a write transaction.
   * `target` is the caller's in-memory copy of the entity (it will put it);
   * the global entity is read and written here.
   */
  fireInTxn(o: Occurrence, target: EntityRecord | undefined, into: Fired = emptyFired()): Fired {
    const now = Date.now();
    const owners: EntityRecord[] = [];
    if (target && target.enabled) owners.push(target);
    if (into.global === undefined) into.global = this.store.entity(GLOBAL) ?? null;
    const global = o.entity === GLOBAL ? undefined : (into.global ?? undefined);
    if (global && global.enabled && target?.enabled !== false) owners.push(global);
    const fired: { owner: EntityRecord; index: number }[] = [];
    for (const owner of owners) {
      owner.conditions.forEach((c, index) => {
        if (!matches(c, o)) return;
        c.fired += 1;
        c.lastFiredAt = now;
        fired.push({ owner, index });
      });
    }
    // Lists to run, decided before the event is written: past RUNS_PER_ENTITY waiting, one is coalesced (the event says so).
    let load = this.load(o.entity) + into.runs.filter((r) => r.target === o.entity).length;
    const lists = fired.map(({ owner, index }) => {
      const c = owner.conditions[index]!;
      const actions = enabledActions(c.actions);
      const inline = [...kindsIn(actions)].every((k) => INLINE.has(k)) && !this.busy(o.entity);
      const coalesced = actions.length > 0 && !inline && !actions.some((a) => a.kind === 'restart') && load >= RUNS_PER_ENTITY;
      if (actions.length > 0 && !inline && !coalesced) load += 1;
      return { owner, c, actions, inline, coalesced };
    });
    const coalesced = lists.filter((l) => l.coalesced).map((l) => ({ owner: l.owner.name, condition: l.c.name }));
    const event = this.store.appendEvent({
      ...o,
      time: now,
      fired: fired.map((f) => ({ owner: f.owner.name, condition: f.owner.conditions[f.index]!.name })),
      ...(coalesced.length ? { coalesced } : {}),
    });
    into.events.push(event);
    for (const { owner, c, actions, inline, coalesced: skip } of lists) {
      if (actions.length === 0 || skip) continue;
      if (actions.some((a) => a.kind === 'restart')) into.restart = true;
      if (inline) {
        this.inline(owner, c.name, actions, event, into, target);
        continue;
      }
      into.runs.push(this.newRun(event.seq, o, owner.name, c.name, c.independent, actions, now));
    }
    if (global && owners.includes(global)) this.store.putEntity(global);
    return into;
  }

  /** A run for actions flagged `now` (run once when added). Inside a write transaction. */
  runNow(owner: EntityRecord, condition: string, actions: ActionSpec[], into: Fired): void {
    const c = owner.conditions.find((x) => x.name === condition)!;
    const o: Occurrence = { entity: owner.name, type: c.type === 'any' ? 'raise' : c.type, detail: 'run now (action added with now)' };
    into.runs.push(this.newRun(this.store.lastSeq(), o, owner.name, condition, true, actions, Date.now()));
  }

  /** A run record at its start, stored (inside the caller's transaction). */
  private newRun(seq: number, o: Occurrence, owner: string, condition: string, independent: boolean, actions: ActionSpec[], now: number): RunRecord {
    const run: RunRecord = {
      id: this.store.nextRunId(),
      seq,
      target: o.entity,
      owner,
      condition,
      independent,
      actions,
      cursor: [],
      inFlight: false,
      lastOk: false,
      child: null,
      occurrence: o,
      createdAt: now,
    };
    this.store.putRun(run);
    return run;
  }

  /** Log / notify / heartbeat-healthy lists: done here, counted here, logged after commit. */
  private inline(owner: EntityRecord, condition: string, actions: ActionSpec[], event: EventRecord, into: Fired, target: EntityRecord | undefined): void {
    const c = owner.conditions.find((x) => x.name === condition)!;
    const now = Date.now();
    for (const a of actions) {
      const live = c.actions.find((x) => x.name === a.name);
      if (live) {
        live.runs += 1;
        live.lastRunAt = now;
        live.lastResult = 'ok';
        live.lastError = null;
        delete live.lastFailure;
      }
      if (a.kind === 'log')
        into.logs.push({
          level: a.level ?? 'info',
          message: a.message || `${event.type} on ${event.entity}`,
          fields: { entity: event.entity, condition, seq: event.seq },
        });
      if (a.kind === 'notify') into.events.push(this.notifyEvent(event, a.message));
      if (a.kind === 'heartbeat-healthy' && target) {
        target.heartbeatState = 'ok';
        (into.healthy ??= []).push(target.name);
      }
    }
  }

  /** The event a `notify` action publishes: it points at the event that fired it. */
  notifyEvent(cause: EventRecord | { seq: number; entity: string }, message?: string): EventRecord {
    return this.store.appendEvent({
      entity: cause.entity,
      type: 'notify',
      time: Date.now(),
      fired: [],
      notifies: cause.seq,
      ...(message ? { detail: message } : {}),
    });
  }
}

export function logFired(log: Logger, f: Fired): void {
  if (f.logs.length) log.many(f.logs.map((l) => ({ level: l.level, msg: l.message, fields: { ...l.fields, action: 'log' } })));
}
