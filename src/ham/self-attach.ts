// Self-attached entities: processes that attach themselves through the client
// library, each bound to the connection that attached it. A connection that
// closes without a detach is its process's death (as in QNX); a re-attach
// after a takeover moves the binding to the new connection.
import type { Socket } from 'node:net';
import { HamError } from '../errors.js';
import { commandKeeper, detachKeeper, removeKeeperDir } from '../keeper/link.js';
import { isAlive, procId, signalProc } from '../proc/procfs.js';
import { encodeFrame } from '../protocol/frame.js';
import type { EntityRecord, HealthSpec, HeartbeatSpec } from '../model/records.js';
import { emptyFired } from './dispatch.js';
import { blankEntity } from './entity-records.js';
import type { SupervisorCore } from './supervisor-core.js';
import { awaitingOf, viewState } from './lifecycle.js';

export interface SelfAttach {
  name: string;
  pid: number;
  heartbeat: HeartbeatSpec | null;
  health: HealthSpec | null;
}

export class SelfAttachments {
  /** Self-attached entities by the connection that attached them... */
  private readonly byConn = new Map<Socket, Set<string>>();
  /** ...and the one connection each name belongs to now (a re-attach moves it). */
  private readonly owners = new Map<string, Socket>();

  constructor(
    private readonly core: SupervisorCore,
    private readonly detachEntity: (name: string) => void,
  ) {}

  /** Send a health-check call to the client that owns `name`; false if no connection speaks for it. */
  sendHealthCheck(name: string, call: number): boolean {
    const conn = this.owners.get(name);
    if (!conn || conn.destroyed || conn.writableEnded) return false;
    conn.write(encodeFrame({ id: 0, call, op: 'health-check', name }));
    return true;
  }

  /**
   * A process attaches itself. A re-attach by the same process (its library
   * reconnecting after a takeover) keeps its instance; a new process of the
   * same name is the next instance. Its pid is watched by a keeper (pidfd).
   * The process of a spawned or pid entity may attach itself too (to beat or
   * be health-checked): it joins that entity, which stays what it is.
   */
  attach(conn: Socket, a: SelfAttach): EntityRecord {
    const { store, with: w, parts } = this.core;
    const id = procId(a.pid);
    if (!id) throw new HamError({ code: 'bad-request', entity: a.name, message: `self-attach.pid: expected a running process, got ${a.pid}` });
    const fired = emptyFired();
    let adopt = false;
    // Set inside the transaction (a holder: TypeScript does not follow assignments in closures).
    const previous: { keeper: { ref: NonNullable<EntityRecord['keeper']>; awaiting: number | null; id: number } | null } = { keeper: null };
    const e = this.core.write(() => {
      const old = store.entity(a.name);
      if (old?.keeper) previous.keeper = { ref: old.keeper, awaiting: awaitingOf(old.life), id: old.id };
      const joins =
        (old?.kind === 'spawned' || old?.kind === 'pid') &&
        old.pid === a.pid &&
        old.pidStart === id.start &&
        (viewState(old.life) === 'running' || viewState(old.life) === 'starting');
      if (old && old.kind !== 'self' && old.kind !== 'placeholder' && !joins) {
        throw new HamError({
          code: 'duplicate-entity',
          entity: a.name,
          message: `an entity named ${JSON.stringify(a.name)} is already attached (kind ${old.kind}${old.pid !== null ? `, pid ${old.pid}` : ''}); only its own process (pid ${old.pid ?? 'none'}) may attach itself to it, not pid ${a.pid}`,
        });
      }
      const same = joins || (old?.kind === 'self' && old.pid === a.pid && old.pidStart === id.start && viewState(old.life) === 'running');
      if (
        old &&
        old.kind === 'self' &&
        viewState(old.life) === 'running' &&
        !same &&
        old.pid !== null &&
        old.pidStart !== null &&
        isAlive({ pid: old.pid, start: old.pidStart })
      ) {
        throw new HamError({
          code: 'duplicate-entity',
          entity: a.name,
          message: `${JSON.stringify(a.name)} is attached by another live process (pid ${old.pid})`,
        });
      }
      const rec: EntityRecord = old ? { ...old } : blankEntity({ name: a.name, kind: 'self', argv: [], env: {}, cwd: '/', conditions: [] }, store.nextId());
      rec.heartbeat = a.heartbeat;
      rec.health = a.health;
      if (!same) {
        rec.kind = 'self';
        rec.pid = a.pid;
        rec.pidStart = id.start;
        rec.heartbeatState = 'ok';
        rec.healthFailing = null; // the previous instance's failure is not this one's
        adopt = true;
        // The next instance runs (its keeper adopts it below): the table's self-attach, its attach fired with it.
        parts.transitions.stepIn(rec, { tag: 'self-attach' }, { pid: a.pid }, fired);
      }
      store.putEntity(rec);
      return rec;
    });
    this.core.names.set(e.id, e.name);
    this.core.publish(fired);
    let bound = this.byConn.get(conn);
    if (!bound) {
      bound = new Set();
      this.byConn.set(conn, bound);
      conn.once('close', () => this.connClosed(conn));
    }
    bound.add(e.name);
    const prev = this.owners.get(e.name);
    if (prev && prev !== conn) this.byConn.get(prev)?.delete(e.name); // its old connection no longer speaks for it
    this.owners.set(e.name, conn);
    if (adopt) parts.healthKills.forget(e.name); // a kill due for the previous instance is not for this one
    if (e.heartbeat) w.heartbeats.track(e.name, e.heartbeat, e.heartbeatState);
    else w.heartbeats.untrack(e.name);
    // A check already failed for this instance: its SIGKILL is coming, no more calls.
    if (e.health && !e.healthFailing) w.health.track(e.name, e.health);
    else if (!e.health) w.health.untrack(e.name);
    if (adopt) {
      const k = previous.keeper;
      if (k) {
        // The previous instance's keeper watches a pid that is not ours any more: let it go.
        parts.keepers.unwatchSerial(e.name, k.ref.serial);
        if (isAlive(k.ref)) {
          if (k.awaiting !== null) commandKeeper(this.core.paths, k.id, k.ref.serial, 'x', k.awaiting);
          else detachKeeper(k.ref);
        }
        removeKeeperDir(this.core.paths, k.id, k.ref.serial);
      }
      parts.spawner.spawnNew(e.name, false, a.pid);
    }
    this.core.events.emit('change', e.name);
    return e;
  }

  /** A beat from the connection that attached `name`; false if it did not. */
  beat(conn: Socket, name: string): boolean {
    return this.owners.get(name) === conn && this.core.with.heartbeats.beat(name);
  }

  /** Detach by the client itself: fires detach; the entity is removed. */
  detach(conn: Socket, name: string): void {
    const e = this.core.mustGet(name);
    const { heartbeats } = this.core.with;
    if (e.kind !== 'self') {
      // A spawned or pid entity's own process withdraws its heartbeat and health check; the entity stays.
      if (this.owners.get(name) !== conn)
        throw new HamError({ code: 'bad-request', entity: name, message: `self-detach: ${name} is not attached by this connection` });
      this.byConn.get(conn)?.delete(name);
      this.owners.delete(name);
      heartbeats.untrack(name);
      this.core.parts.healthKills.forget(name);
      this.core.updateIfPresent(name, (rec) => {
        rec.heartbeat = null;
        rec.health = null;
      });
      return;
    }
    this.byConn.get(conn)?.delete(name);
    heartbeats.untrack(name);
    this.detachEntity(name);
  }

  /** The entity is detached (by anyone): no connection speaks for it any more. */
  forget(name: string): void {
    const owner = this.owners.get(name);
    if (owner) this.byConn.get(owner)?.delete(name);
    this.owners.delete(name);
  }

  /** The connection closed without a detach: for a live process that is its death (as in QNX). */
  private connClosed(conn: Socket): void {
    const names = this.byConn.get(conn);
    this.byConn.delete(conn);
    for (const name of names ?? []) {
      if (this.owners.get(name) !== conn) continue; // re-attached elsewhere, or detached
      this.owners.delete(name);
      const e = this.core.store.entity(name);
      // A spawned or pid entity's process that joined is watched by its keeper;
      // if it stays silent, its heartbeats say so.
      if (!e || e.kind !== 'self' || viewState(e.life) !== 'running') continue;
      this.core.with.heartbeats.untrack(name);
      // A process that exited is reported by its keeper, with what it knows; only a live one dies here.
      if (e.pid === null || e.pidStart === null || !isAlive({ pid: e.pid, start: e.pidStart })) continue;
      // It failed its health check and now went silent: its SIGKILL is not waited for any longer.
      if (e.healthFailing) signalProc({ pid: e.healthFailing.pid, start: e.healthFailing.pidStart }, 'SIGKILL');
      this.core.parts.keepers.connectionDeath(name);
      this.core.log('warn', 'self-attached entity closed its connection without detaching: death', { entity: name });
    }
  }

  /** The client's answer to a health-check call, from the connection that owns `name`. */
  healthReply(conn: Socket, name: string, call: number, healthy: boolean, message?: string): void {
    if (this.owners.get(name) === conn) this.core.with.health.reply(name, call, healthy, message);
  }

  /** `ham stop` closes every client connection next: that is not their deaths. */
  close(): void {
    this.byConn.clear();
    this.owners.clear();
  }
}
