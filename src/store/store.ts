// One LMDB environment per home, opened by both the HAM and the Guardian.
// Every change is one synchronous write transaction; LMDB serialises writers
// across processes, so a read-check-write inside `transactionSync` is an
// atomic compare-and-set between the pair. A process killed mid-transaction
// leaves the previous state intact. `noSync` keeps commits in the page cache:
// a process crash loses nothing, only a machine crash can drop the last
// milliseconds (LMDB stays consistent either way).
import { open, type Database, type RootDatabase } from 'lmdb';
import { HamError } from '../errors.js';
import type { ProcId } from '../proc/procfs.js';
import type { EventRecord, Occurrence, RunRecord } from './model.js';
import { DEFAULT_RESTART_POLICY } from '../ham/backoff.js';
import type { GroupSpec } from '../ham/topology.js';
import { DEFAULT_SETTINGS, DEFAULT_STOP_POLICY, type EntityRecord, type Roles, type Settings } from './types.js';

/**
 * Fields added since a record may have been written: a store written by an
 * older ham reads as if they had their defaults (a HAM must not die on it).
 */
const ENTITY_DEFAULTS: Partial<EntityRecord> = {
  enabled: true,
  conditions: [],
  userState: null,
  heartbeat: null,
  restartPolicy: DEFAULT_RESTART_POLICY,
  stopPolicy: DEFAULT_STOP_POLICY,
  restartTimes: [],
  group: null,
  requires: [],
  held: null,
  health: null,
  healthFailing: null,
  healthFailures: 0,
  heartbeatState: 'ok',
  saved: null,
  restartPending: false,
  failedStartAt: null,
  lastUptimeMs: null,
};

const DEFAULT_KEYS = Object.keys(ENTITY_DEFAULTS) as (keyof EntityRecord)[];

function upgrade(e: EntityRecord | undefined): EntityRecord | undefined {
  // Records written by this version have every field: no copy (this is on every read).
  if (!e || DEFAULT_KEYS.every((k) => k in e)) return e;
  return { ...structuredClone(ENTITY_DEFAULTS), ...e }; // fresh arrays: callers mutate records
}

/** What a detector keeps across a takeover. */
export interface DetectorRecord {
  /** A check's consecutive failures, and whether this failing episode was raised. */
  failures: number;
  raised: boolean;
  /** The file's mtime when this was written: an edited detector starts afresh. */
  mtimeMs: number;
  /** A running stream detector (killed by the next HAM if it outlived this one). */
  stream: ProcId | null;
  /** Consecutive misconfigured results (checks). */
  misconfigured?: number;
  /** Failing episodes so far: names the idempotency key of each raise. */
  episode?: number;
  /** An event decided but not yet known to be published: the next HAM publishes it (its key makes it once). */
  outbox?: Occurrence | null;
}

/** Idempotency keys of dropped events are swept every this many events. */
const KEY_SWEEP_EVERY = 1024;

/** The event log keeps this many events; older ones are dropped as new ones come. */
export const EVENTS_KEPT = 10_000;

export const EMPTY_ROLES: Readonly<Roles> = Object.freeze({
  epoch: 0,
  ham: null,
  guardian: null,
  hamFailures: 0,
  guardianFailures: 0,
  stopping: false,
});

export class Store {
  private readonly root: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly entities: Database<EntityRecord, string>;
  private readonly events: Database<EventRecord, number>;
  private readonly runs: Database<RunRecord, number>;
  /** Detectors' persistent state, by name. */
  private readonly detectors: Database<DetectorRecord, string>;
  /** Idempotency keys of raise/state requests → the seq of the event they made (kept as long as it). */
  private readonly keys: Database<number, string>;

  constructor(path: string) {
    this.root = open({ path, noSync: true, maxDbs: 16, mapSize: 256 * 1024 * 1024 });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    this.entities = this.root.openDB<EntityRecord, string>({ name: 'entities', encoding: 'msgpack' });
    this.events = this.root.openDB<EventRecord, number>({ name: 'events', encoding: 'msgpack', keyEncoding: 'uint32' });
    this.runs = this.root.openDB<RunRecord, number>({ name: 'runs', encoding: 'msgpack', keyEncoding: 'uint32' });
    this.keys = this.root.openDB<number, string>({ name: 'keys', encoding: 'msgpack' });
    this.detectors = this.root.openDB<DetectorRecord, string>({ name: 'detectors', encoding: 'msgpack' });
  }

  /** Run `fn` in one write transaction; its return value is the result. */
  write<T>(fn: () => T): T {
    return this.root.transactionSync(fn);
  }

  /**
   * A write fenced by the epoch: it commits only if `epoch` is still the
   * current one, i.e. the caller still holds the HAM role.
   */
  fenced<T>(epoch: number, fn: () => T): T {
    return this.write(() => {
      const now = this.roles().epoch;
      if (now !== epoch) throw new HamError({ code: 'fenced', message: `this HAM held epoch ${epoch}, the store is at ${now}` });
      return fn();
    });
  }

  /** Drop the shared read snapshot so the next read sees the latest commit. */
  refresh(): void {
    this.root.resetReadTxn();
  }

  roles(): Roles {
    return { ...EMPTY_ROLES, ...(this.meta.get('roles') as Partial<Roles> | undefined) };
  }

  putRoles(r: Roles): void {
    this.meta.putSync('roles', r);
  }

  settings(): Settings {
    return { ...DEFAULT_SETTINGS, ...(this.meta.get('settings') as Partial<Settings> | undefined) };
  }

  putSettings(s: Settings): void {
    this.meta.putSync('settings', s);
  }

  nextId(): number {
    const id = ((this.meta.get('nextEntityId') as number | undefined) ?? 0) + 1;
    this.meta.putSync('nextEntityId', id);
    return id;
  }

  entity(name: string): EntityRecord | undefined {
    return upgrade(this.entities.get(name));
  }

  putEntity(e: EntityRecord): void {
    this.entities.putSync(e.name, e);
  }

  removeEntity(name: string): void {
    this.entities.removeSync(name);
  }

  /** How many entities, without decoding them. */
  entityCount(): number {
    return this.entities.getKeysCount();
  }

  /** Up to `limit` entities in name order, from the first name after `after` (paging through many). */
  entitiesAfter(after: string | undefined, limit: number): EntityRecord[] {
    const out: EntityRecord[] = [];
    for (const { key, value } of this.entities.getRange({ start: after === undefined ? undefined : `${after}\u0000`, limit })) if (key !== after) out.push(upgrade(value)!);
    return out;
  }

  allEntities(): EntityRecord[] {
    const out: EntityRecord[] = [];
    for (const { value } of this.entities.getRange()) out.push(upgrade(value)!);
    return out;
  }

  /** Append an event (inside a write transaction): numbers it and drops the oldest past EVENTS_KEPT. */
  appendEvent(e: Omit<EventRecord, 'seq'>): EventRecord {
    const seq = this.lastSeq() + 1;
    const rec = { ...e, seq } as EventRecord;
    this.meta.putSync('eventSeq', seq);
    this.events.putSync(seq, rec);
    if (e.key !== undefined) this.keys.putSync(e.key, seq);
    if (seq > EVENTS_KEPT) this.events.removeSync(seq - EVENTS_KEPT);
    // Keys go with their events, swept now and then (not by decoding each event dropped: that is on every append).
    if (seq % KEY_SWEEP_EVERY === 0) this.sweepKeys(seq - EVENTS_KEPT);
    return rec;
  }

  private sweepKeys(upTo: number): void {
    for (const { key, value } of this.keys.getRange({})) if (value <= upTo) this.keys.removeSync(key);
  }

  /** Groups declared by `ham apply`, by name. */
  groups(): Record<string, GroupSpec> {
    return (this.meta.get('groups') as Record<string, GroupSpec> | undefined) ?? {};
  }

  putGroups(g: Record<string, GroupSpec>): void {
    this.meta.putSync('groups', g);
  }

  detectorRecord(name: string): DetectorRecord | undefined {
    return this.detectors.get(name);
  }

  detectorRecords(): [string, DetectorRecord][] {
    return [...this.detectors.getRange({})].map(({ key, value }) => [key, value]);
  }

  putDetectorRecord(name: string, r: DetectorRecord): void {
    this.detectors.putSync(name, r);
  }

  removeDetectorRecord(name: string): void {
    this.detectors.removeSync(name);
  }

  /** The seq of the event a request with this idempotency key made, if it was made. */
  keyedSeq(key: string): number | undefined {
    return this.keys.get(key);
  }

  lastSeq(): number {
    return (this.meta.get('eventSeq') as number | undefined) ?? 0;
  }

  /** Events with seq > since, oldest first, at most `limit`. */
  eventsSince(since: number, limit = EVENTS_KEPT): EventRecord[] {
    const out: EventRecord[] = [];
    for (const { value } of this.events.getRange({ start: since + 1, limit })) out.push(value);
    return out;
  }

  nextRunId(): number {
    const id = ((this.meta.get('nextRunId') as number | undefined) ?? 0) + 1;
    this.meta.putSync('nextRunId', id);
    return id;
  }

  run(id: number): RunRecord | undefined {
    return this.runs.get(id);
  }

  putRun(r: RunRecord): void {
    this.runs.putSync(r.id, r);
  }

  removeRun(id: number): void {
    this.runs.removeSync(id);
  }

  allRuns(): RunRecord[] {
    const out: RunRecord[] = [];
    for (const { value } of this.runs.getRange()) out.push(value);
    return out;
  }

  close(): void {
    void this.root.close();
  }
}
