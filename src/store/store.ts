// One LMDB environment per home, opened by both the HAM and the Guardian.
// Every change is one synchronous write transaction; LMDB serialises writers
// across processes, so a read-check-write inside `transactionSync` is an
// atomic compare-and-set between the pair. A process killed mid-transaction
// leaves the previous state intact. `noSync` keeps commits in the page cache:
// a process crash loses nothing, only a machine crash can drop the last
// milliseconds (LMDB stays consistent either way).
import { asBinary, open, type Database, type RootDatabase } from 'lmdb';
import { HamError } from '../model/errors.js';
import type { ProcId } from '../model/records.js';
import type { EventRecord, Occurrence, RunRecord } from '../model/conditions.js';
import { DEFAULT_SETTINGS } from '../model/defaults.js';
import type { ClusterState } from '../model/cluster.js';
import { boundEvent } from './limits.js';
import { upgradeEntity as upgrade } from './upgrade.js';
import type { RollRecord } from '../model/rolls.js';
import { GLOBAL, type EntityRecord, type GroupSpec, type Roles, type Settings } from '../model/records.js';

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
  /** A stream's ends in a row (its backoff), and when it is due to start again: a takeover continues both. */
  crashes?: number;
  restartAt?: number | null;
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

/** How far a resuming HAM has come: `n` grows while it works (its loop cannot answer probes meanwhile). */
export interface ResumeBeat {
  epoch: number;
  pid: number;
  n: number;
}

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
  /** Saved states by entity: apart from the entity records, which are read on every transition. */
  private readonly saved: Database<unknown, string>;

  constructor(path: string) {
    this.root = open({ path, noSync: true, maxDbs: 16, mapSize: 256 * 1024 * 1024 });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    // Plain maps, not msgpackr records: without shared structures every record
    // carried its own structure definition, rebuilt on each write and re-read on
    // each read (half the cost of an apply of 10,000 and of a status page).
    // Records written before still decode.
    this.entities = this.root.openDB<EntityRecord, string>({ name: 'entities', encoding: 'msgpack', useRecords: false } as never);
    this.events = this.root.openDB<EventRecord, number>({ name: 'events', encoding: 'msgpack', keyEncoding: 'uint32' });
    this.runs = this.root.openDB<RunRecord, number>({ name: 'runs', encoding: 'msgpack', keyEncoding: 'uint32' });
    this.keys = this.root.openDB<number, string>({ name: 'keys', encoding: 'msgpack' });
    this.detectors = this.root.openDB<DetectorRecord, string>({ name: 'detectors', encoding: 'msgpack' });
    this.saved = this.root.openDB<unknown, string>({ name: 'saved', encoding: 'msgpack' });
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

  /** The HAM's beat through a long resume (roles.ts: beatResume), if one was written. */
  resumeBeat(): ResumeBeat | undefined {
    return this.meta.get('resuming') as ResumeBeat | undefined;
  }

  putResumeBeat(b: ResumeBeat): void {
    this.meta.putSync('resuming', b);
  }

  /** Rolling restarts under way (ham/rolls.ts). */
  rolls(): RollRecord[] {
    return (this.meta.get('rolls') as RollRecord[] | undefined) ?? [];
  }

  putRolls(r: RollRecord[]): void {
    this.meta.putSync('rolls', r);
  }

  settings(): Settings {
    return { ...DEFAULT_SETTINGS, ...(this.meta.get('settings') as Partial<Settings> | undefined) };
  }

  putSettings(s: Settings): void {
    this.meta.putSync('settings', s);
  }

  /** This node's cluster membership (src/cluster), or undefined when it is in none. */
  cluster(): ClusterState | undefined {
    return this.meta.get('cluster') as ClusterState | undefined;
  }

  putCluster(c: ClusterState): void {
    this.meta.putSync('cluster', c);
  }

  nextId(): number {
    const id = ((this.meta.get('nextEntityId') as number | undefined) ?? 0) + 1;
    this.meta.putSync('nextEntityId', id);
    return id;
  }

  /** The next `nextId()` would return (not reserved: read outside a transaction to plan). */
  peekNextId(): number {
    return ((this.meta.get('nextEntityId') as number | undefined) ?? 0) + 1;
  }

  /** Reserve `n` ids at once (inside a write transaction); returns the first. */
  reserveIds(n: number): number {
    const first = this.peekNextId();
    if (n > 0) this.meta.putSync('nextEntityId', first + n - 1);
    return first;
  }

  /** Whether an entity record exists (no decoding). */
  hasEntity(name: string): boolean {
    return this.entities.getBinaryFast(name) !== undefined;
  }

  /** A record encoded as putEntity would store it: encoding can then happen outside the transaction. */
  encodeEntity(e: EntityRecord): Buffer {
    return Buffer.from((this.entities as unknown as { encoder: { encode(v: unknown): Uint8Array } }).encoder.encode(e));
  }

  /** Store a record encoded by encodeEntity. */
  putEncodedEntity(name: string, encoded: Buffer): void {
    this.entities.putSync(name, asBinary(encoded) as never);
  }

  entity(name: string): EntityRecord | undefined {
    return upgrade(this.entities.get(name));
  }

  putEntity(e: EntityRecord): void {
    this.entities.putSync(e.name, e);
  }

  removeEntity(name: string): void {
    this.entities.removeSync(name);
    this.saved.removeSync(name);
  }

  /** The state entity `name` saved (a store written by an older ham kept it in the entity record). */
  savedValue(name: string): unknown {
    const v = this.saved.get(name);
    return v !== undefined ? v : (this.entities.get(name)?.saved ?? null);
  }

  putSaved(name: string, value: unknown): void {
    this.saved.putSync(name, value);
  }

  /** How many entities, without decoding them. */
  entityCount(): number {
    return this.entities.getKeysCount();
  }

  /** At most `limit` entities named after `after` (in key order), the global entity left out. */
  entitiesAfter(after: string | undefined, limit: number): EntityRecord[] {
    const out: EntityRecord[] = [];
    for (const { key, value } of this.entities.getRange({ ...(after !== undefined ? { start: after } : {}) })) {
      if (key === after || key === GLOBAL) continue;
      out.push(upgrade(value)!);
      if (out.length >= limit) break;
    }
    return out;
  }

  /** Bytes in use: the pages of every database (free pages, which LMDB reuses, are not counted). */
  usedBytes(): number {
    let pages = 2; // the two meta pages
    let size = 4096;
    for (const db of [this.root, this.meta, this.entities, this.events, this.runs, this.keys, this.detectors, this.saved]) {
      const s = db.getStats() as { pageSize: number; treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number };
      size = s.pageSize;
      pages += s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    }
    return pages * size;
  }

  /** Every entity; `tick` after each (a long resume beats with it). */
  allEntities(tick?: () => void): EntityRecord[] {
    const out: EntityRecord[] = [];
    for (const { value } of this.entities.getRange()) {
      out.push(upgrade(value)!);
      tick?.();
    }
    return out;
  }

  /** Append an event (inside a write transaction): numbers it and drops the oldest past EVENTS_KEPT. */
  appendEvent(e: Omit<EventRecord, 'seq'>): EventRecord {
    const seq = this.lastSeq() + 1;
    const rec = { ...boundEvent(e), seq } as EventRecord;
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
