// Placed entities (README "Cluster"): definitions kept in etcd under PREFIX/defs/, ownership
// as PREFIX/owners/NAME created under the owner's lease only if it does not exist (its
// revision is the fencing token, HAM_FENCE_TOKEN). One watch on the prefix wakes the
// reconcile: no polling. Candidates race in policy order (a later rank waits longer).
import { constants } from 'node:os';
import type { Etcd3, Watcher } from 'etcd3';
import type { ClusterConfig } from '../model/cluster.js';
import type { PlacedView } from '../protocol/cluster.js';
import { placedViews } from './view.js';
import { fenceKeeper } from '../keeper/link.js';
import { createOnce, defKey, dropOwner, gaveUpKey, moveKey, ownerKey, rangeUnder, stoppedKey } from './etcd.js';
import { HamError } from '../model/errors.js';
import type { ClusterPort } from './port.js';
import type { EntityRecord } from '../model/records.js';
import { killGroup, runs } from './kill-group.js';
import { raceOrders } from './race-order.js';
import { storedStopMs } from './fence-stop.js';
import { FENCE_SAFETY_MS, stopOf, type PlacedDef } from './def.js';
import { candidateOrder, failbackTo } from './policy.js';
import { emptySeen, nodesBack, readSeen, type Seen } from './seen.js';
import { clusterEvent } from './events.js';

export { candidateOrder, moveOrder } from './policy.js';
export { FENCE_SAFETY_MS, stopOf, type PlacedDef } from './def.js';

const RANK_DELAY_MS = 500;

export class Placements {
  private seen: Seen = emptySeen();
  private watcher: Watcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly races = new Map<string, NodeJS.Timeout>();
  private readonly applied = new Map<string, string>();
  private busy: Promise<void> = Promise.resolve();
  private closed = false;
  /** Who owned each entity when last seen: a new owner is a `relocated` event. */
  private readonly lastOwner = new Map<string, string>();
  /** A freshly (re)connected watch races for nothing before this (performance.now()): a node cut off may still run it until its deadline. */
  private freshUntil = 0;
  /** An owned entity that ends `failed` (its recovery gave up here) is released: reconciled soon. */
  private readonly onChange = (name: string): void => {
    if (this.applied.has(name) && this.port.supervisor.get(name)?.life.tag === 'failed') this.soon();
  };

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
    this.fresh();
    w.on('put', () => this.soon())
      .on('delete', () => this.soon())
      .on('connected', () => (this.fresh(), this.soon()));
    this.port.supervisor.events.on('change', this.onChange);
    w.on('error', (e: Error) => this.port.log('warn', 'cluster: watch failed', { error: e.message }));
    this.soon();
  }

  private fresh(): void {
    this.freshUntil = performance.now() + this.cfg.ttlMs + 1000;
  }

  close(): void {
    this.closed = true;
    this.port.supervisor.events.off('change', this.onChange);
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

  owned(): Record<string, { token: string; since: number }> {
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

  /** What this node has seen of the cluster at the last reconcile. */
  get seenNow(): Seen {
    return this.seen;
  }

  /** Read everything under the prefix and act on it (in turn: through soon() or inTurn()). */
  async reconcile(): Promise<void> {
    const all = await rangeUnder(this.etcd, this.cfg.prefix);
    const before = this.seen;
    const first = !this.reconciled;
    const seen = readSeen(all, (key) => this.port.log('warn', 'cluster: a key that is not ours', { key }));
    this.seen = seen;
    this.reconciled = true;
    this.noteOwners(seen);
    const lease = this.freshLease();
    let owned = this.owned();
    for (const name of Object.keys(owned)) {
      const o = seen.owners.get(name);
      const mine = o !== undefined && o.node === this.cfg.node && o.revision === owned[name]!.token;
      if (mine && !seen.defs.has(name)) await this.release(name, o.revision, 'removed from the cluster (ham detach)');
      else if (!mine) await this.dropLocal(name, 'ownership lost');
      else if (seen.stopped.has(name)) await this.release(name, o.revision, 'stopped cluster-wide (ham stop)');
      else if (this.port.supervisor.get(name)?.life.tag === 'failed') await this.giveUp(name, o.revision);
    }
    owned = this.owned();
    // Every free entity's order at once, so that those freed together split (race-order.ts).
    const free = [...seen.defs]
      .filter(([name]) => !seen.owners.has(name) && !seen.stopped.has(name))
      .map(([name, { def }]) => ({ name, placement: def.placement, move: seen.moves.get(name), gaveUp: seen.gaveUp.get(name) }));
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
        await dropOwner(this.etcd, this.cfg, name, o.revision);
      } else if (!o && lease && !seen.stopped.has(name)) this.race(name, orders.get(name) ?? []);
    }
    // Ours by name, its definition removed (`ham detach`) while it was not run here: released too.
    for (const [name, o] of seen.owners)
      if (!seen.defs.has(name) && o.node === this.cfg.node && owned[name] === undefined) await dropOwner(this.etcd, this.cfg, name, o.revision);
    if (!first) await this.failback(nodesBack(before, seen));
  }

  /** A new owner of an entity, seen on every node: `relocated` (from the one seen before). */
  private noteOwners(seen: Seen): void {
    for (const [name, o] of seen.owners) {
      const was = this.lastOwner.get(name);
      if (was !== undefined && was !== o.node)
        clusterEvent(this.port, { event: 'relocated', entity: name, node: o.node, token: o.revision }, `from ${was} to ${o.node}`);
      this.lastOwner.set(name, o.node);
    }
    for (const name of this.lastOwner.keys()) if (!seen.defs.has(name)) this.lastOwner.delete(name);
  }

  /** `failback: true`: an entity owned here whose most favored node is back moves home, as `ham relocate --to` does. */
  private async failback(back: Set<string>): Promise<void> {
    if (back.size === 0) return;
    const live = [...this.seen.nodes.keys()];
    for (const [name, mine] of Object.entries(this.owned())) {
      const d = this.seen.defs.get(name)?.def;
      const to = d && !this.seen.moves.has(name) ? failbackTo(d.placement, live, this.seen.gaveUp.get(name), this.cfg.node, back) : null;
      if (to) await this.moveNow(name, mine.token, to, `failback: its favored node ${to} is back`);
    }
  }

  /**
   * Its recovery gave up here (restart intensity exceeded): a mark PREFIX/gaveup/NAME/NODE first
   * (should etcd fail after the stop, this node still races for it no more until `ham reset NAME`
   * here), then stopped and released, guarded by its token; the next node by policy takes it.
   */
  private async giveUp(name: string, token: string): Promise<void> {
    const why = this.port.supervisor.get(name)?.lastError ?? 'restart intensity exceeded';
    await this.etcd.put(gaveUpKey(this.cfg, name, this.cfg.node)).value(JSON.stringify({ token, at: Date.now(), why }));
    this.port.log('warn', 'cluster: recovery gave up here; the entity is released to the next node', { entity: name, token, why });
    clusterEvent(this.port, { event: 'gave-up', entity: name, node: this.cfg.node, token }, why);
    await this.release(name, token, 'its recovery gave up here');
  }

  /** Stopped here, then its ownership key deleted, guarded by its token. */
  async release(name: string, token: string, why: string): Promise<boolean> {
    if (!(await this.dropLocal(name, why))) return false;
    await dropOwner(this.etcd, this.cfg, name, token);
    return true;
  }

  /**
   * A later rank waits longer; a freshly (re)connected watch waits TTL + 1 s, but not on the node a move names (the
   * move key is under the releasing owner's lease: stopped gracefully); the others give that node TTL + 1 s ahead.
   */
  private raceDelay(name: string, rank: number): number {
    const to = this.seen.moves.get(name)?.to;
    if (to === this.cfg.node) return rank * RANK_DELAY_MS;
    const headStart = to && this.seen.nodes.has(to) ? this.cfg.ttlMs + 1000 : 0;
    return Math.max(rank * RANK_DELAY_MS + headStart, this.freshUntil - performance.now());
  }

  private race(name: string, order: string[]): void {
    if (this.races.has(name) || this.port.perlKeeper) return;
    const rank = order.indexOf(this.cfg.node);
    if (rank < 0) return;
    const delay = this.raceDelay(name, rank);
    const t = setTimeout(() => {
      this.busy = this.busy
        .then(async () => {
          this.races.delete(name);
          if (performance.now() < this.freshUntil && this.seen.moves.get(name)?.to !== this.cfg.node) return this.soon(); // reconnected meanwhile: waits anew
          const lease = this.freshLease();
          if (this.closed || !lease || this.seen.owners.has(name) || !this.seen.defs.has(name) || this.seen.stopped.has(name)) return;
          const r = await createOnce(this.etcd, ownerKey(this.cfg, name), this.cfg.node, lease, stoppedKey(this.cfg, name), defKey(this.cfg, name));
          if (!r.created) return;
          this.saveOwned((o) => (o[name] = { token: r.revision, since: Date.now() }));
          if (this.seen.moves.has(name)) await this.etcd.delete().key(moveKey(this.cfg, name)); // the move is done
          this.port.log('info', 'cluster: placed here', { entity: name, token: r.revision });
          clusterEvent(this.port, { event: 'placed', entity: name, node: this.cfg.node, token: r.revision });
          const d = this.seen.defs.get(name);
          if (d) await this.applyLocal(name, d.def, d.raw, r.revision);
        })
        .catch((e: Error) => (this.races.delete(name), this.port.log('warn', 'cluster: race failed', { entity: name, error: e.message })));
    }, delay);
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
    else if (rec?.life.tag === 'failed') this.soon(); // it gave up before it was marked applied (onChange missed it)
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
    const token = this.owned()[name]?.token;
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
    if (token) clusterEvent(this.port, { event: 'released', entity: name, node: this.cfg.node, token }, why);
    return true;
  }

  /**
   * `ham relocate NAME [--to NODE]` on its owner: stopped here, then released with a note
   * (under this node's lease) that makes NODE try first and this node last.
   */
  relocate(name: string, to: string | undefined): Promise<{ name: string; from: string; to: string | null }> {
    // In turn with the reconciles: one must not start it again here while it is being stopped.
    return this.inTurn(() => this.relocateNow(name, to));
  }

  /** A request run in turn with the reconciles (placed-requests.ts, relocate). */
  inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const r = this.busy.then(fn);
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
    if (to !== undefined && this.seen.gaveUp.get(name)?.has(to))
      throw new HamError({
        code: 'bad-request',
        entity: name,
        message: `expected --to a node that did not give up on ${name}, got ${to} (\`ham reset ${name}\` there first)`,
      });
    if (!(await this.moveNow(name, o.revision, to, 'ham relocate')))
      throw new HamError({ code: 'bad-request', entity: name, message: `expected ${name} to stop here before it moves, got it still running: it stays here` });
    return { name, from: this.cfg.node, to: to ?? null };
  }

  /** Stopped here, then released with a note (under this node's lease) that makes `to` try first and this node last. */
  private async moveNow(name: string, token: string, to: string | undefined, why: string): Promise<boolean> {
    const lease = this.port.store.cluster()?.lease;
    if (!lease) throw new HamError({ code: 'cluster-unreachable', message: 'expected a node lease, got none: etcd is not answering' });
    await this.etcd
      .put(moveKey(this.cfg, name))
      .value(JSON.stringify({ from: this.cfg.node, to: to ?? null }))
      .lease(lease);
    return this.release(name, token, why);
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
    return placedViews(this.seen, this.owned(), this.cfg.node);
  }

  nodes(): { name: string; lease: string }[] {
    return [...this.seen.nodes].map(([name, lease]) => ({ name, lease }));
  }
}
