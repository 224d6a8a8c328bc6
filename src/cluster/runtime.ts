// A node of a cluster (README "Cluster"): loaded (with etcd3 and gRPC) only by a HAM whose
// store has a `cluster:` block or that is applying one. It holds the node's lease (kept in
// the store: a takeover inside the node renews the same one, nothing moves), renews it every
// TTL/6, and after each confirmed renewal moves every placed entity's keeper deadline on.
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig, ClusterState } from '../model/cluster.js';
import { HamError } from '../model/errors.js';
import type { ClusterView } from '../protocol/cluster.js';
import { claimNode, connect, defKey, grantLease, keepAlive, leaseTtl, rangeUnder, unreachable } from './etcd.js';
import { Placements, type PlacedDef } from './placed.js';
import { PlacedRequests } from './placed-requests.js';
import { clusterEvent } from './events.js';
import type { ClusterPort } from './port.js';
import { splitApply } from './split.js';
import { failureText } from './etcd-failure.js';
import type { ApplyReply } from './port.js';

const same = (a: ClusterConfig, b: ClusterConfig): boolean => JSON.stringify(a) === JSON.stringify(b);

export class ClusterRuntime {
  private etcd: Etcd3 | undefined;
  private placed: Placements | undefined;
  private requests: PlacedRequests | undefined;
  private cfg: ClusterConfig | undefined;
  /** The last confirmed renewal, on both clocks (see sinceConfirmed); none: -Infinity. */
  private confirmed = -Infinity;
  private confirmedWall = -Infinity;
  /** Has this runtime confirmed a renewal itself? Before, no `d` order is sent (keepers keep theirs). */
  private confirmedHere = false;
  private lastRenewal: Date | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private halt: NodeJS.Timeout | undefined;
  private timerWatch: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly port: ClusterPort) {}

  private get interval(): number {
    return Math.max(200, Math.floor((this.cfg?.ttlMs ?? 10_000) / 6));
  }

  /** At the HAM's start or takeover: continue the membership the store holds. */
  resume(): void {
    const c = this.port.store.cluster();
    if (!c) return;
    // The previous HAM's last confirmed renewal of the same lease: deadlines count from it, not from -∞ or now.
    if (c.lease && typeof c.confirmedAt === 'number')
      ((this.confirmedWall = c.confirmedAt), (this.confirmed = performance.now() - Math.max(0, Date.now() - c.confirmedAt)));
    this.begin(c.config);
  }

  /**
   * Time since the last confirmed renewal: the larger of the monotonic clock's (a wall-clock step back moves
   * nothing) and the wall clock's (it runs through a suspend, as the etcd lease does; the monotonic one stops).
   */
  private sinceConfirmed(): number {
    return Math.max(performance.now() - this.confirmed, Date.now() - this.confirmedWall);
  }

  private confirm(perf: number): void {
    const wall = Date.now() - (performance.now() - perf);
    this.confirmed = perf;
    this.confirmedWall = wall;
    this.confirmedHere = true;
    this.save((c) => (c.confirmedAt = wall));
  }

  private begin(cfg: ClusterConfig): void {
    this.stopLoop();
    this.cfg = cfg;
    this.etcd = connect(cfg, Math.max(1500, Math.floor(cfg.ttlMs / 2)));
    this.placed = new Placements(
      this.port,
      this.etcd,
      cfg,
      () => this.freshLease(),
      () => performance.now() - this.sinceConfirmed(),
      this.interval,
      () => this.confirmedHere,
    );
    const placed = this.placed;
    this.requests = new PlacedRequests(this.port, this.etcd, cfg, placed);
    this.port.supervisor.placedFence = (e) => (this.placed === placed ? placed.grantMs(e) : undefined);
    // etcd may be down at a takeover: the watch is tried again until it is there.
    const watch = (): void =>
      void placed.start().catch((e: Error) => {
        this.port.log('warn', 'cluster: watch not started; trying again', { error: e.message });
        if (!this.closed && this.placed === placed) this.timerWatch = setTimeout(watch, this.interval);
      });
    watch();
    this.tick();
  }

  private stopLoop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.halt);
    clearTimeout(this.timerWatch);
    this.placed?.close();
    this.etcd?.close();
  }

  private lease(): string | null {
    return this.port.store.cluster()?.lease ?? null;
  }

  private freshLease(): string | null {
    return this.cfg && this.sinceConfirmed() < this.cfg.ttlMs / 2 ? this.lease() : null;
  }

  private save(fn: (c: ClusterState) => void): void {
    this.port.supervisor.write(() => {
      const c = this.port.store.cluster();
      if (c) (fn(c), this.port.store.putCluster(c));
    });
  }

  private tick(): void {
    if (this.closed) return;
    void this.renew().finally(() => {
      if (!this.closed) this.timer = setTimeout(() => this.tick(), this.interval);
    });
  }

  private async renew(): Promise<void> {
    const cfg = this.cfg!;
    const sent = performance.now();
    try {
      let lease = this.lease();
      if (lease && (await keepAlive(this.etcd!, lease, this.interval * 2)) <= 0) {
        this.port.log('warn', 'cluster: the node lease expired; its placed entities are stopped here', { lease });
        await this.placed!.dropAll('the node lease expired');
        this.save((c) => ((c.lease = null), (c.confirmedAt = null)));
        lease = null;
      }
      if (!lease) {
        const fresh = performance.now();
        lease = await grantLease(this.etcd!, cfg.ttlMs);
        this.save((c) => ((c.lease = lease), (c.confirmedAt = null)));
        await claimNode(this.etcd!, cfg, lease);
        this.confirm(fresh);
        this.placed!.soon();
      } else this.confirm(sent);
      this.lastRenewal = new Date();
      if (this.lastError) {
        this.port.log('info', 'cluster: etcd answers again', { lastError: this.lastError });
        clusterEvent(this.port, { event: 'etcd-back', node: cfg.node });
      }
      this.lastError = null;
      this.placed!.fenceAll();
    } catch (e) {
      const why = failureText(cfg, e);
      if (this.lastError === null) {
        this.port.log('warn', 'cluster: a renewal failed', { error: why, etcd: cfg.etcd.join(',') });
        clusterEvent(this.port, { event: 'etcd-lost', node: cfg.node }, `${cfg.etcd.join(', ')}: ${why}`);
      }
      this.lastError = why;
    }
    this.armHalt();
  }

  /** The HAM stops its placed entities itself before the keepers' deadline (a requested stop, not a death). */
  private armHalt(): void {
    clearTimeout(this.halt);
    const ms = this.placed?.haltInMs();
    if (ms === undefined) return;
    this.halt = setTimeout(() => void this.placed?.dropAll('no lease renewal confirmed in time'), Math.max(0, ms));
  }

  /** `ham apply` of a file with a `cluster:` block or placed entities. */
  async apply(config: unknown, dryRun: boolean): Promise<ApplyReply> {
    const split = await splitApply(config, this.port, this.cfg);
    if (dryRun) return { dryRun, changes: split.changes };
    if (split.cluster && (!this.cfg || !same(split.cluster, this.cfg))) await this.join(split.cluster);
    const cfg = this.cfg;
    if (!cfg && split.placed.size === 0) return this.port.applyPlain(split.plain, false); // nothing of the cluster's: as without one
    if (!cfg) throw new HamError({ code: 'not-in-cluster', message: 'expected a `cluster:` block before placed entities: this node is in no cluster' });
    for (const [name, def] of split.placed) await this.putDef(cfg, name, def);
    if (split.placed.size > 0) {
      // A listed node no live node is named: accepted (nodes may join later), with a warning.
      const live = await rangeUnder(this.etcd!, `${cfg.prefix}nodes/`).catch(() => undefined);
      for (const c of split.placedChanges) {
        const unknown = live ? split.placed.get(c.entity)!.placement.nodes.filter((n) => !live.has(n)) : [];
        if (unknown.length) c.details.push(`warning: no live node is named ${unknown.join(', ')} (it may join later)`);
      }
    }
    const plain = await this.port.applyPlain(split.plain, false);
    return { dryRun, changes: [...plain.changes, ...split.placedChanges] };
  }

  /** Join: etcd must answer and the node name be free (or ours) before anything is kept. */
  private async join(cfg: ClusterConfig): Promise<void> {
    const etcd = connect(cfg, Math.max(2000, Math.floor(cfg.ttlMs / 2)));
    const old = this.port.store.cluster();
    let lease: string;
    try {
      lease = old?.lease && old.config.node === cfg.node && (await leaseTtl(etcd, old.lease)) > 0 ? old.lease : await grantLease(etcd, cfg.ttlMs);
    } catch (e) {
      etcd.close();
      throw unreachable(cfg, e);
    }
    try {
      await claimNode(etcd, cfg, lease);
    } catch (e) {
      if (lease !== old?.lease) await etcd.leaseClient.leaseRevoke({ ID: lease }).catch(() => undefined);
      etcd.close();
      throw e instanceof HamError ? e : unreachable(cfg, e);
    }
    etcd.close();
    this.port.supervisor.write(() => this.port.store.putCluster({ config: cfg, lease, owned: old?.config.node === cfg.node ? old.owned : {} }));
    this.port.log('info', 'cluster: joined', { node: cfg.node, etcd: cfg.etcd.join(','), lease });
    this.begin(cfg);
  }

  private async putDef(cfg: ClusterConfig, name: string, def: PlacedDef): Promise<void> {
    const value = JSON.stringify(def);
    try {
      const now = await this.etcd!.get(defKey(cfg, name)).string();
      if (now !== value) await this.etcd!.put(defKey(cfg, name)).value(value);
    } catch (e) {
      throw unreachable(cfg, e);
    }
  }

  relocate(name: string, to: string | undefined): Promise<{ name: string; from: string; to: string | null }> {
    if (!this.placed) throw new HamError({ code: 'not-in-cluster', message: 'this node is in no cluster: expected a `cluster:` block in an applied file' });
    return this.placed.relocate(name, to);
  }

  /** `ham stop|start NAME` of a placed entity: cluster-wide (placed-requests.ts); undefined: the local request. */
  async control(request: string, name: string, wait: boolean): Promise<string | undefined> {
    if (!this.requests) return undefined;
    if (request === 'stop') return this.requests.stop(name, wait);
    if (request === 'start') return this.requests.start(name);
    return undefined;
  }

  /** `ham detach NAME` of a placed entity: removed from the cluster; undefined: the local detach. */
  async detach(name: string): Promise<string | undefined> {
    return this.requests?.detach(name);
  }

  /** `ham reset NAME` on a node that gave up on a placed entity; undefined: the local reset. */
  async reset(name: string): Promise<string | undefined> {
    return this.requests?.reset(name);
  }

  status(): ClusterView {
    const cfg = this.cfg;
    if (!cfg) throw new HamError({ code: 'not-in-cluster', message: 'this node is in no cluster: expected a `cluster:` block in an applied file' });
    const lease = this.lease();
    return {
      node: cfg.node,
      etcd: cfg.etcd,
      tls: cfg.tls ? { ca: cfg.tls.caFile, cert: cfg.tls.certFile ?? null } : null,
      prefix: cfg.prefix,
      ttlMs: cfg.ttlMs,
      connected: this.confirmedHere && this.sinceConfirmed() < cfg.ttlMs,
      lease,
      lastRenewal: this.lastRenewal?.toISOString() ?? null,
      lastError: this.lastError,
      nodes: (this.placed?.nodes() ?? []).map((n) => ({ ...n, self: n.name === cfg.node })),
      placed: this.placed?.view() ?? [],
    };
  }

  close(): void {
    this.closed = true;
    this.port.supervisor.placedFence = undefined;
    this.stopLoop();
  }
}
