// The standing orders given to keepers (standing-orders.ts decides them):
// after every change to an entity its order is given, renewed or revoked,
// before the change's effects are carried out (a stop's revoke reaches the
// keeper before its signal; the keeper reads ctl before it judges a death).
// In memory: a new HAM renews or revokes every order (`renewAll`), so none
// outlives its epoch.
import { orderKeeper } from '../keeper/link.js';
import { GLOBAL, type EntityRecord } from '../model/records.js';
import { standingOrder, type StandingOrder } from './standing-orders.js';
import type { SupervisorCore } from './supervisor-core.js';

/** Entities looked at per turn when all are (a takeover, an apply): 10,000 is not one stall. */
const SLICE = 512;

export class Orders {
  /** The order each keeper holds, as far as this HAM knows, by entity. */
  private readonly held = new Map<string, { serial: number } & StandingOrder>();
  /**
   * Entities whose keeper's order this HAM knows (it gave, revoked, or saw it dropped). One it does
   * not (before a takeover's review reached it, or mid a restart its order carried out) may hold an
   * earlier HAM's order: revoked whenever none is wanted.
   */
  private readonly known = new Set<string>();

  constructor(private readonly core: SupervisorCore) {}

  /** After a change to `name` (or its global entity's, or a run of it ending). */
  review(name: string): void {
    if (name === GLOBAL) return this.reviewAll(false);
    const e = this.core.store.entity(name);
    if (!e) {
      this.known.delete(name);
      return void this.held.delete(name);
    }
    this.reviewEntity(e, false);
  }

  /**
   * A takeover, before it resumes the stops the previous HAM began (their signal goes again at once):
   * their keepers' orders revoked first, as a stop's revoke precedes its signal.
   */
  revokeStopping(tick?: () => void): void {
    for (const e of this.core.store.allEntities(tick))
      if (e.life.tag === 'stopping' && e.kind === 'spawned' && e.keeper && e.keeper.pid !== 0) this.send(e, { n: 0, minRunMs: 0 });
  }

  /** A new HAM (`takeover`: every keeper told, orders it cannot know of revoked), or a change for many. */
  reviewAll(takeover: boolean, tick?: () => void): void {
    const all = this.core.store.allEntities(tick);
    const next = (from: number): void => {
      for (const e of all.slice(from, from + SLICE)) {
        const now = this.core.store.entity(e.name); // it may have changed since the list was read
        if (now) this.reviewEntity(now, takeover);
      }
      if (from + SLICE < all.length) setImmediate(() => next(from + SLICE));
    };
    next(0);
  }

  /** Before an apply that leaves these keepers stale is committed: none restarts the old definition after it (the next death asks). */
  revoke(names: string[]): void {
    for (const name of names) {
      const e = this.core.store.entity(name);
      if (e?.kind === 'spawned' && e.keeper && e.keeper.pid !== 0 && this.send(e, { n: 0, minRunMs: 0 })) this.held.delete(name);
    }
  }

  /** A graceful `ham stop`: no HAM will count what an order does, so a death waits for the next one, as without orders. */
  revokeAll(): void {
    for (const name of this.held.keys()) {
      const e = this.core.store.entity(name);
      if (e?.keeper) this.send(e, { n: 0, minRunMs: 0 });
    }
    this.held.clear();
  }

  private reviewEntity(e: EntityRecord, takeover: boolean): void {
    const k = e.keeper;
    const l = e.life;
    const unknown = !this.known.has(e.name);
    // Starting: a restart its order carried out (what is left of the order is renewed once it runs;
    // a stop meanwhile revokes it), or one it asked for (it dropped its order then).
    if (l.tag !== 'starting') this.known.add(e.name);
    if (e.kind !== 'spawned' || !k || k.pid === 0) return void this.held.delete(e.name);
    const had = this.held.get(e.name);
    if (l.tag === 'starting') return void (had && (had.n = -1));
    // No process: its keeper asked (and dropped its order), or is gone.
    if (l.tag !== 'running' && l.tag !== 'stopping') return void this.held.delete(e.name);
    const want = l.tag === 'running' ? standingOrder(e, this.context(e)) : null;
    const same = had?.serial === k.serial;
    if (!want) {
      if (same || takeover || unknown) {
        if (this.send(e, { n: 0, minRunMs: 0 })) this.held.delete(e.name);
        else this.known.delete(e.name); // not told: revoked at its next review
      }
      return;
    }
    if (same && !takeover && had.n === want.n && had.minRunMs === want.minRunMs) return;
    if (this.send(e, want)) this.held.set(e.name, { serial: k.serial, ...want });
    else this.held.delete(e.name);
  }

  private context(e: EntityRecord): Parameters<typeof standingOrder>[1] {
    const { store, with: w } = this.core;
    const holdsBack = (): boolean => w.executor.busy(e.name) && this.holdsBack(e.name);
    return {
      now: Date.now(),
      global: store.entity(GLOBAL) ?? null,
      hasDependants: w.coord.hasDependants(e.name),
      // Read only if every cheaper check passed (a raise on a busy entity with no restart scanned every run).
      get busy() {
        return holdsBack();
      },
    };
  }

  /**
   * Does a list fired earlier for it hold a restart back? Not the restart that just brought it
   * back (its run ends once the entity runs, a turn later): only a run elsewhere than at a first
   * restart action is one its next restart would wait for.
   */
  private holdsBack(name: string): boolean {
    return this.core.store.allRuns().some((r) => r.target === name && !(r.actions[0]?.kind === 'restart' && (r.cursor[0] ?? 0) === 0));
  }

  private send(e: EntityRecord, o: StandingOrder): boolean {
    const k = e.keeper!;
    const order = { epoch: this.core.epoch, seq: k.lastSeq, n: o.n, minRunMs: o.minRunMs };
    const ok = orderKeeper(this.core.paths, e.id, k.serial, order);
    if (ok) this.core.log('debug', o.n > 0 ? 'standing order given' : 'standing order revoked', { entity: e.name, ...order });
    return ok;
  }
}
