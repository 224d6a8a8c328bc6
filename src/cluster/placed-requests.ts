// `ham stop|start|reset|detach NAME` of a placed entity (README "Cluster"): cluster-wide. A stop
// puts PREFIX/stopped/NAME (guarded by the owner's token as seen: nobody took it meanwhile) and
// its owner releases it; it stays stopped on every node until `ham start NAME` deletes the key
// and it is placed again. A reset on a node that gave up on it clears that node's mark. A detach
// deletes its definition and every mark of it (guarded the same way); its owner stops it and
// releases it. Each answers undefined for an entity that is not placed (or runs here, for start
// and reset): the local request.
import type { Etcd3 } from 'etcd3';
import type { ClusterConfig } from '../model/cluster.js';
import { HamError } from '../model/errors.js';
import { candidateOrder, withoutGaveUp } from './policy.js';
import { defKey, gaveUpKey, moveKey, ownerKey, stoppedKey } from './etcd.js';
import type { Placements } from './placed.js';
import type { ClusterPort } from './port.js';

export class PlacedRequests {
  constructor(
    private readonly port: ClusterPort,
    private readonly etcd: Etcd3,
    private readonly cfg: ClusterConfig,
    private readonly placed: Placements,
  ) {}

  /**
   * In turn with the reconciles, only for a placed name (a plain entity's request never waits on
   * etcd); etcd not answering is a clear error.
   */
  private async inTurn(request: string, name: string, fn: () => Promise<string | undefined>): Promise<string | undefined> {
    if (!this.isPlaced(name)) return undefined;
    try {
      return await this.placed.inTurn(fn);
    } catch (e) {
      if (e instanceof HamError) throw e;
      throw new HamError({
        code: 'cluster-unreachable',
        entity: name,
        message: `${request} ${name}: expected etcd to answer at ${this.cfg.etcd.join(', ')}, got: ${(e as Error).message}; try again once it does (\`ham cluster status\` shows where it is)`,
      });
    }
  }

  /**
   * Placed as last seen in etcd, or owned here, or run here as a placed record (its fencing token in
   * its env): before the first reconcile after a takeover seenNow is empty, and a local stop would be
   * undone once etcd answers (the cluster path fails with `cluster-unreachable` instead).
   */
  private isPlaced(name: string): boolean {
    if (this.placed.seenNow.defs.has(name) || this.placed.owned()[name] !== undefined) return true;
    return this.port.supervisor.get(name)?.env.HAM_FENCE_TOKEN !== undefined;
  }

  /** `ham stop NAME`: stopped on its owner and on every node until `ham start NAME`. */
  stop(name: string, wait: boolean): Promise<string | undefined> {
    return this.inTurn('stop', name, async () => {
      await this.placed.reconcile();
      const seen = this.placed.seenNow;
      if (!seen.defs.has(name)) return undefined;
      if (seen.stopped.has(name)) return `${name}: already stopped cluster-wide; \`ham start ${name}\` places it again`;
      const o = seen.owners.get(name);
      const r = await this.etcd
        .if(ownerKey(this.cfg, name), 'Create', '==', o?.revision ?? 0)
        .then(this.etcd.put(stoppedKey(this.cfg, name)).value(JSON.stringify({ by: this.cfg.node, at: Date.now() })))
        .commit();
      if (!r.succeeded)
        throw new HamError({
          code: 'bad-request',
          entity: name,
          message: `stop ${name}: expected its owner to stay ${o?.node ?? 'none'} while the stop was written, got another one meanwhile; nothing was stopped, try again`,
        });
      seen.stopped.add(name);
      const here = o !== undefined && o.node === this.cfg.node && this.placed.owned()[name]?.token === o.revision;
      if (here && wait && !(await this.placed.release(name, o.revision, 'stopped cluster-wide (ham stop)')))
        throw new HamError({
          code: 'timeout',
          entity: name,
          message: `stop ${name}: expected it stopped, got it still running here: it is released once its exit is seen`,
        });
      if (here && !wait) this.placed.soon();
      const where = o ? (here ? (wait ? ' (stopped here)' : ' (stopping here)') : ` (stopping on ${o.node})`) : '';
      return `${name}: stopped cluster-wide${where}; it stays stopped on every node until \`ham start ${name}\``;
    });
  }

  /** `ham start NAME` of one stopped cluster-wide: placed again by its policy. */
  start(name: string): Promise<string | undefined> {
    return this.inTurn('start', name, async () => {
      await this.placed.reconcile();
      const seen = this.placed.seenNow;
      const d = seen.defs.get(name);
      if (!d) return undefined;
      if (seen.stopped.has(name)) {
        await this.etcd.delete().key(stoppedKey(this.cfg, name));
        return `${name}: started cluster-wide: placed again by its policy`;
      }
      if (this.port.supervisor.get(name)) return undefined; // runs here: the local start
      const o = seen.owners.get(name);
      if (o) return `${name}: already runs on ${o.node} (token ${o.revision})`;
      const gaveUp = seen.gaveUp.get(name);
      if (gaveUp?.size && withoutGaveUp(candidateOrder(d.def.placement, [...seen.nodes.keys()], []), gaveUp).length === 0)
        throw new HamError({
          code: 'bad-request',
          entity: name,
          message: `start ${name}: expected a node it may run on, got every one gave up on it (${[...gaveUp].sort().join(', ')}): \`ham reset ${name}\` on one of them`,
        });
      return `${name}: not stopped; it is being placed by its policy`;
    });
  }

  /**
   * `ham detach NAME`: removed from the cluster. Its definition, its gave-up marks, its stopped key
   * and a move under way go in one transaction, guarded by its owner as seen; its owner stops it
   * and releases it (here: before this answers). It is placed again only by a new apply of it.
   */
  detach(name: string): Promise<string | undefined> {
    return this.inTurn('detach', name, async () => {
      await this.placed.reconcile();
      const seen = this.placed.seenNow;
      if (!seen.defs.has(name)) return undefined;
      const o = seen.owners.get(name);
      const r = await this.etcd
        .if(ownerKey(this.cfg, name), 'Create', '==', o?.revision ?? 0)
        .then(
          this.etcd.delete().key(defKey(this.cfg, name)),
          this.etcd.delete().key(stoppedKey(this.cfg, name)),
          this.etcd.delete().key(moveKey(this.cfg, name)),
          this.etcd.delete().prefix(gaveUpKey(this.cfg, name, '')),
        )
        .commit();
      if (!r.succeeded)
        throw new HamError({
          code: 'bad-request',
          entity: name,
          message: `detach ${name}: expected its owner to stay ${o?.node ?? 'none'} while it was removed, got another one meanwhile; nothing was removed, try again`,
        });
      seen.defs.delete(name);
      const here = o !== undefined && o.node === this.cfg.node && this.placed.owned()[name]?.token === o.revision;
      if (here && !(await this.placed.release(name, o.revision, 'removed from the cluster (ham detach)')))
        throw new HamError({
          code: 'timeout',
          entity: name,
          message: `detach ${name}: removed from the cluster, expected it stopped here, got it still running: it is released once its exit is seen`,
        });
      const where = o ? (here ? ' (stopped here)' : ` (stopping on ${o.node})`) : ' (it ran nowhere)';
      return `${name}: removed from the cluster${where}; an apply of it places it again`;
    });
  }

  /** `ham reset NAME` on a node that gave up on it (and so no longer has it): its mark cleared, it may run it again. */
  reset(name: string): Promise<string | undefined> {
    return this.inTurn('reset', name, async () => {
      await this.placed.reconcile(); // a failure just seen here is given up first
      const seen = this.placed.seenNow;
      if (!seen.defs.has(name) || this.port.supervisor.get(name)) return undefined;
      if (!seen.gaveUp.get(name)?.has(this.cfg.node)) {
        const o = seen.owners.get(name);
        throw new HamError({
          code: 'bad-request',
          entity: name,
          message: `reset ${name}: expected this node (${this.cfg.node}) to have given up on it, got no mark of it here${o ? ` (it runs on ${o.node})` : ''}`,
        });
      }
      await this.etcd.delete().key(gaveUpKey(this.cfg, name, this.cfg.node));
      return `${name}: this node (${this.cfg.node}) may run it again (its gave-up mark is cleared)`;
    });
  }
}
