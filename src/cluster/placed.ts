// Placed entities (README "Cluster"): definitions kept in etcd under PREFIX/defs/, ownership
// as PREFIX/owners/NAME created under the owner's lease only if it does not exist (its
// revision is the fencing token, HAM_FENCE_TOKEN). One watch on the prefix wakes the
// reconcile: no polling. Candidates race in policy order (a later rank waits longer).
import { constants } from 'node:os';
import type { Etcd3, Watcher } from 'etcd3';
import type { ClusterConfig, Placement } from '../model/cluster.js';
import type { PlacedView } from '../protocol/cluster.js';
import { fenceKeeper } from '../keeper/link.js';
import { createOnce, moveKey, ownerKey, rangeUnder } from './etcd.js';
import { HamError } from '../model/errors.js';
import type { ClusterPort } from './port.js';
import type { EntityRecord } from '../model/records.js';
import { killGroup, runs } from './kill-group.js';
import { raceOrders } from './race-order.js';
import { storedStopMs } from './fence-stop.js';

/** What etcd keeps of a placed entity: its apply-file body (without placement) and where its paths start. */
export interface PlacedDef {
  config: Record<string, unknown>;
  placement: Placement;
  baseDir: string;
}

/** Kept between the keeper's deadline and the lease's expiry; the HAM stops an entity this much earlier still. */
export const FENCE_SAFETY_MS = 500;
const RANK_DELAY_MS = 500;

export function stopOf(def: PlacedDef): { signal: string; timeoutMs: number } {
  const s = (def.config.stop ?? {}) as { signal?: string; timeoutMs?: number };
  return { signal: s.signal ?? 'SIGTERM', timeoutMs: s.timeoutMs ?? 5000 };
}

interface Seen {
  defs: Map<string, { def: PlacedDef; raw: string }>;
  owners: Map<string, { node: string; lease: string; revision: string }>;
  nodes: Map<string, string>;
  /** `ham relocate` in progress: the node it leaves (it tries last) and the one asked for (it tries first). */
  moves: Map<string, { from: string; to: string | null }>;
}

/**
 * The live nodes that may run an entity, in the order they try (TruCluster CAA's policies):
 * favored: the listed ones in their order, then (not restricted) the others by name;
 * balanced: the same, fewest placed entities first; restricted: only the listed ones.
 */
export function candidateOrder(p: Placement, live: string[], owners: string[]): string[] {
  const listed = p.nodes.filter((n) => live.includes(n));
  const others = p.policy === 'restricted' ? [] : live.filter((n) => !p.nodes.includes(n)).sort();
  const order = [...listed, ...others];
  if (p.policy !== 'balanced') return order;
  const load = new Map<string, number>();
  for (const n of owners) load.set(n, (load.get(n) ?? 0) + 1);
  return order
    .map((n, i) => ({ n, i, l: load.get(n) ?? 0 }))
    .sort((a, b) => a.l - b.l || a.i - b.i)
    .map((x) => x.n);
}

/** The order during a move: the node asked for first; the node it leaves not at all while another may run it. */
export function moveOrder(order: string[], move: { from: string; to: string | null }): string[] {
  const rest = order.filter((n) => n !== move.from && n !== move.to);
  const first = move.to && move.to !== move.from && order.includes(move.to) ? [move.to] : [];
  const others = [...first, ...rest];
  return others.length > 0 ? others : order;
}

export class Placements {
  private seen: Seen = { defs: new Map(), owners: new Map(), nodes: new Map(), moves: new Map() };
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly races = new Map<string, NodeJS.Timeout>();
  private readonly applied = new Map<string, string>();
  private busy: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly port: ClusterPort,
    private readonly etcd: Etcd3,
    private readonly cfg: ClusterConfig,
    /** The node's lease if its last renewal is recent enough to start something under it. */
    private readonly freshLease: () => string | null,
    /** When the last confirmed renewal was sent (performance.now()). */
    private readonly confirmedAt: () => number,
    private readonly interval: number,
    /** Has this runtime confirmed a renewal itself (before that, keepers keep the deadline they have)? */
    private readonly confirmedHere: () => boolean,
  ) {}
  /** Ownership as etcd holds it is known (the first reconcile got that far): no grant before. */
  private reconciled = false;

  async start(): Promise<void> {
    const w = await this.etcd.watch().prefix(this.cfg.prefix).create();
    if (this.closed) return void w.cancel();
    this.watcher = w;
    w.on('put', () => this.soon())
      .on('delete', () => this.soon())
      .on('connected', () => this.soon());
    w.on('error', (e: Error) => this.port.log('warn', 'cluster: watch failed', { error: e.message }));
    this.soon();
  }

  close(): void {
    this.closed = true;
    void this.watcher?.cancel().catch(() => undefined);
    clearTimeout(this.timer);
    for (const t of this.races.values()) clearTimeout(t);
  }

  /** Reconcile soon, once for a burst of events. */
  soon(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.busy = this.busy.then(() => this.reconcile()).catch((e: Error) => this.port.log('warn', 'cluster: reconcile failed', { error: e.message }));
    }, 20);
  }

  private owned(): Record<string, { token: string; since: number }> {
    return this.port.store.cluster()?.owned ?? {};
  }

  private saveOwned(fn: (o: Record<string, { token: string; since: number }>) => void): void {
    this.port.supervisor.write(() => {
      const c = this.port.store.cluster();
      if (!c) return;
      fn(c.owned);
      this.port.store.putCluster(c);
    });
  }

  private async reconcile(): Promise<void> {
    const all = await rangeUnder(this.etcd, this.cfg.prefix);
    const seen: Seen = { defs: new Map(), owners: new Map(), nodes: new Map(), moves: new Map() };
    for (const [k, v] of all) {
      if (k.startsWith('defs/')) {
        try {
          seen.defs.set(k.slice(5), { def: JSON.parse(v.value) as PlacedDef, raw: v.value });
        } catch {
          this.port.log('warn', 'cluster: a definition that is not JSON', { key: k });
        }
      } else if (k.startsWith('owners/')) seen.owners.set(k.slice(7), { node: v.value, lease: v.lease, revision: v.revision });
      else if (k.startsWith('nodes/')) seen.nodes.set(k.slice(6), v.lease);
      else if (k.startsWith('moves/')) {
        try {
          seen.moves.set(k.slice(6), JSON.parse(v.value) as { from: string; to: string | null });
        } catch {
          /* not ours */
        }
      }
    }
    this.seen = seen;
    this.reconciled = true;
    const lease = this.freshLease();
    const owned = this.owned();
    for (const name of Object.keys(owned)) {
      const o = seen.owners.get(name);
      if (!seen.defs.has(name) || !o || o.node !== this.cfg.node || o.revision !== owned[name]!.token) await this.dropLocal(name, 'ownership lost');
    }
    // Every free entity's order at once, so that those freed together split (race-order.ts).
    const free = [...seen.defs]
      .filter(([name]) => !seen.owners.has(name))
      .map(([name, { def }]) => ({ name, placement: def.placement, move: seen.moves.get(name) }));
    const orders = raceOrders(
      free,
      [...seen.nodes.keys()],
      [...seen.owners.values()].map((o) => o.node),
    );
    for (const [name, { def, raw }] of seen.defs) {
      const o = seen.owners.get(name);
      if (o && o.node === this.cfg.node && owned[name]?.token === o.revision) {
        if (this.applied.get(name) !== raw) await this.applyLocal(name, def, raw, o.revision);
      } else if (o && o.node === this.cfg.node && owned[name]?.token !== o.revision) {
        // Ours by name but not run here (kept by a lease etcd refreshed after we stopped it):
        // released, so that the next owner (maybe this node) starts with a new token.
        await this.etcd
          .if(ownerKey(this.cfg, name), 'Create', '==', o.revision)
          .then(this.etcd.delete().key(ownerKey(this.cfg, name)))
          .commit();
      } else if (!o && lease) this.race(name, orders.get(name) ?? []);
    }
  }

  private race(name: string, order: string[]): void {
    if (this.races.has(name) || this.port.perlKeeper) return;
    const rank = order.indexOf(this.cfg.node);
    if (rank < 0) return;
    const t = setTimeout(() => {
      this.busy = this.busy
        .then(async () => {
          this.races.delete(name);
          const lease = this.freshLease();
          if (this.closed || !lease || this.seen.owners.has(name) || !this.seen.defs.has(name)) return;
          const r = await createOnce(this.etcd, ownerKey(this.cfg, name), this.cfg.node, lease);
          if (!r.created) return;
          this.saveOwned((o) => (o[name] = { token: r.revision, since: Date.now() }));
          if (this.seen.moves.has(name)) await this.etcd.delete().key(moveKey(this.cfg, name)); // the move is done
          this.port.log('info', 'cluster: placed here', { entity: name, token: r.revision });
          const d = this.seen.defs.get(name);
          if (d) await this.applyLocal(name, d.def, d.raw, r.revision);
        })
        .catch((e: Error) => (this.races.delete(name), this.port.log('warn', 'cluster: race failed', { entity: name, error: e.message })));
    }, rank * RANK_DELAY_MS);
    this.races.set(name, t);
  }

  private async applyLocal(name: string, def: PlacedDef, raw: string, token: string): Promise<void> {
    const stop = stopOf(def);
    const env = {
      ...((def.config.env as Record<string, string> | undefined) ?? {}),
      // Marks it placed in the store: its keepers start only with a grant (grantMs), their deadline not stored.
      HAM_FENCE_TOKEN: token,
      HAM_FENCE_STOP: `${constants.signals[stop.signal as keyof typeof constants.signals] ?? 15} ${stop.timeoutMs}`,
    };
    await this.port.applyPlain({ entities: { [name]: { ...def.config, env } }, baseDir: def.baseDir }, false);
    this.applied.set(name, raw);
    this.fence(name, def);
    // Refused a start before the grant (a node back from a reboot): started now that it is ours.
    const rec = this.port.supervisor.get(name);
    if (rec && !rec.keeper && (rec.life.tag === 'dead' || rec.life.tag === 'stopped'))
      await this.port.supervisor.byName
        .start(name, false)
        .catch((e: Error) => this.port.log('warn', 'cluster: a start failed', { entity: name, error: e.message }));
  }

  /** A placed entity's keeper deadline (ms from now) if this node owns it by the token it carries; else none. */
  grantMs(e: EntityRecord): number | undefined {
    const mine = this.owned()[e.name];
    const d = this.seen.defs.get(e.name)?.def;
    if (this.closed || !this.reconciled || !mine || !d || mine.token !== e.env.HAM_FENCE_TOKEN) return undefined;
    const ms = this.deadlineMs(d);
    return ms > 0 ? ms : undefined;
  }

  /** The last confirmed renewal + TTL − its stop timeout − a margin, from now. */
  private deadlineMs(d: PlacedDef): number {
    return Math.floor(this.confirmedAt() + this.cfg.ttlMs - stopOf(d).timeoutMs - FENCE_SAFETY_MS - performance.now());
  }

  /**
   * Stop `name` here, then give up its ownership (its process does not outlive it). A failed stop
   * kills its group and keeps record and ownership (false) until its exit is seen: never detached.
   */
  async dropLocal(name: string, why: string): Promise<boolean> {
    const sup = this.port.supervisor;
    this.applied.delete(name);
    const rec = sup.get(name);
    if (rec) {
      this.port.log('warn', `cluster: stopping a placed entity: ${why}`, { entity: name });
      try {
        await sup.byName.stop(name, true);
      } catch (e) {
        killGroup(sup.get(name) ?? rec);
        this.port.log('error', 'cluster: a placed entity did not stop; its group is killed, its ownership kept until its exit', {
          entity: name,
          error: (e as Error).message,
        });
      }
      const now = sup.get(name);
      if (now && runs(now)) {
        // Its exit not seen yet: record and ownership kept, tried again soon (never detached while it may run).
        if (!this.closed) setTimeout(() => this.soon(), this.interval).unref();
        return false;
      }
      if (now) sup.detach(name); // its process is gone: the record goes (this node no longer runs it)
    }
    this.saveOwned((o) => delete o[name]);
    return true;
  }

  /**
   * `ham relocate NAME [--to NODE]` on its owner: stopped here, then released with a note
   * (under this node's lease) that makes NODE try first and this node last.
   */
  relocate(name: string, to: string | undefined): Promise<{ name: string; from: string; to: string | null }> {
    // In turn with the reconciles: one must not start it again here while it is being stopped.
    const r = this.busy.then(() => this.relocateNow(name, to));
    this.busy = r.then(
      () => undefined,
      () => undefined,
    );
    return r;
  }

  private async relocateNow(name: string, to: string | undefined): Promise<{ name: string; from: string; to: string | null }> {
    await this.reconcile();
    const o = this.seen.owners.get(name);
    const def = this.seen.defs.get(name)?.def;
    if (!def)
      throw new HamError({ code: 'unknown-entity', entity: name, message: `expected a placed entity named ${JSON.stringify(name)}, got none in the cluster` });
    if (!o || o.node !== this.cfg.node || this.owned()[name]?.token !== o.revision)
      throw new HamError({
        code: 'bad-request',
        entity: name,
        message: `expected ham relocate on the node that runs ${name} (${o?.node ?? 'none does now'}), got it on ${this.cfg.node}`,
      });
    if (to !== undefined && !candidateOrder(def.placement, [...this.seen.nodes.keys()], []).includes(to))
      throw new HamError({ code: 'bad-request', entity: name, message: `expected --to a live node ${name} may run on, got ${JSON.stringify(to)}` });
    const lease = this.port.store.cluster()?.lease;
    if (!lease) throw new HamError({ code: 'cluster-unreachable', message: 'expected a node lease, got none: etcd is not answering' });
    await this.etcd
      .put(moveKey(this.cfg, name))
      .value(JSON.stringify({ from: this.cfg.node, to: to ?? null }))
      .lease(lease);
    if (!(await this.dropLocal(name, 'ham relocate')))
      throw new HamError({ code: 'bad-request', entity: name, message: `expected ${name} to stop here before it moves, got it still running: it stays here` });
    await this.etcd
      .if(ownerKey(this.cfg, name), 'Create', '==', o.revision)
      .then(this.etcd.delete().key(ownerKey(this.cfg, name)))
      .commit();
    return { name, from: this.cfg.node, to: to ?? null };
  }

  /** Every owned entity stopped here before the lease can expire (the keepers do it too). */
  async dropAll(why: string): Promise<void> {
    for (const name of Object.keys(this.owned())) await this.dropLocal(name, why);
  }

  /** The keeper's deadline: the last confirmed renewal + TTL − its stop timeout − a margin. */
  fence(name: string, def?: PlacedDef): void {
    const d = def ?? this.seen.defs.get(name)?.def;
    const rec = this.port.supervisor.get(name);
    if (!d || !rec?.keeper || !this.confirmedHere()) return;
    const stop = stopOf(d);
    const ms = this.deadlineMs(d);
    const sig = constants.signals[stop.signal as keyof typeof constants.signals] ?? 15;
    fenceKeeper(this.port.paths, rec.id, rec.keeper.serial, `d ${this.port.epoch} ${Math.max(1, ms)} ${sig} ${stop.timeoutMs}\n`);
  }

  fenceAll(): void {
    for (const name of Object.keys(this.owned())) this.fence(name);
  }

  /** The HAM's own deadline, ahead of the keepers': the earliest of the owned entities'. */
  haltInMs(): number | undefined {
    let min: number | undefined;
    for (const name of Object.keys(this.owned())) {
      const d = this.seen.defs.get(name)?.def;
      const t = this.cfg.ttlMs - (d ? stopOf(d).timeoutMs : (storedStopMs(this.port.supervisor.get(name)) ?? 5000)) - FENCE_SAFETY_MS - 250;
      min = min === undefined ? t : Math.min(min, t);
    }
    return min === undefined ? undefined : Math.floor(this.confirmedAt() + min - performance.now());
  }

  view(): PlacedView[] {
    const owned = this.owned();
    return [...this.seen.defs].map(([name, { def }]) => {
      const o = this.seen.owners.get(name);
      const mine = o?.node === this.cfg.node && owned[name]?.token === o.revision;
      return {
        name,
        policy: def.placement.policy,
        nodes: def.placement.nodes,
        unknownNodes: def.placement.nodes.filter((n) => !this.seen.nodes.has(n)),
        owner: o?.node ?? null,
        token: o?.revision ?? null,
        state: mine ? 'running' : o ? 'elsewhere' : 'unplaced',
        since: mine ? new Date(owned[name]!.since).toISOString() : null,
      };
    });
  }

  nodes(): { name: string; lease: string }[] {
    return [...this.seen.nodes].map(([name, lease]) => ({ name, lease }));
  }
}
