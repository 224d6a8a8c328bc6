// Role transitions between the HAM and the Guardian. Each is a compare-and-set
// inside one write transaction, so two processes never both act as HAM: a
// stopped HAM that wakes up finds the epoch moved on and is fenced.
import { HamError } from '../model/errors.js';
import type { ProcId } from '../model/records.js';
import type { Store } from './store.js';
import { GLOBAL, type Roles } from '../model/records.js';

export interface Claimed {
  epoch: number;
  previous: Roles;
}

/**
 * `ham start`: take the HAM role unless a live HAM holds it. `alive` says
 * whether a process still runs (proc/procfs.ts's isAlive: handed in, the
 * store imports only the model).
 */
export function claimHam(store: Store, me: ProcId, alive: (p: ProcId) => boolean, onClaim?: () => void): Claimed {
  return store.write(() => {
    const previous = store.roles();
    if (previous.ham && previous.ham.pid !== me.pid && alive(previous.ham)) {
      throw new HamError({ code: 'already-running', message: `a HAM (pid ${previous.ham.pid}) already serves this home` });
    }
    onClaim?.(); // what this start changes (settings), only if it wins the role
    const epoch = previous.epoch + 1;
    store.putRoles({ ...previous, epoch, ham: me, stopping: false });
    return { epoch, previous };
  });
}

/** A new Guardian registers under the HAM that spawned it. */
export function registerGuardian(store: Store, epoch: number, me: ProcId): void {
  store.fenced(epoch, () => {
    const r = store.roles();
    store.putRoles({ ...r, guardian: me });
  });
}

/**
 * The Guardian takes the HAM role: only if nobody else changed the roles since
 * it registered (same epoch, still the Guardian) and no stop was asked for.
 * Its `takeover` event (on `*`) is appended in the same transaction: a
 * takeover that happened has its event, whatever kills whom next.
 */
export function takeOver(store: Store, epoch: number, me: ProcId, reason = 'takeover'): Claimed {
  return store.write(() => {
    const previous = store.roles();
    if (previous.epoch !== epoch || previous.guardian?.pid !== me.pid) {
      throw new HamError({ code: 'fenced', message: `roles moved on (epoch ${previous.epoch}, guardian ${previous.guardian?.pid ?? 'none'})` });
    }
    if (previous.stopping) throw new HamError({ code: 'stopping', message: 'the pair is being stopped' });
    const at = Date.now();
    const oldHam = previous.ham?.pid ?? null;
    const event = store.appendEvent({
      entity: GLOBAL,
      type: 'takeover',
      time: at,
      fired: [],
      pid: me.pid,
      epoch: epoch + 1,
      detail: `${reason}: epoch ${epoch + 1}, old HAM ${oldHam ?? 'none'}`,
    });
    const takeover = { epoch: epoch + 1, seq: event.seq, at, reason, by: me.pid, oldHam, logged: false };
    const next: Roles = { ...previous, epoch: epoch + 1, ham: me, guardian: null, hamFailures: previous.hamFailures + 1, takeover };
    store.putRoles(next);
    return { epoch: next.epoch, previous };
  });
}

/** The HAM drops a Guardian that died or hung (counted as a failure). */
export function dropGuardian(store: Store, epoch: number, guardian: ProcId, failed: boolean): void {
  store.fenced(epoch, () => {
    const r = store.roles();
    if (r.guardian?.pid !== guardian.pid) return;
    store.putRoles({ ...r, guardian: null, guardianFailures: r.guardianFailures + (failed ? 1 : 0) });
  });
}

export function markStopping(store: Store, epoch: number, why?: string): void {
  store.fenced(epoch, () => {
    store.putRoles({ ...store.roles(), stopping: true });
    // Its `pair-stop` event (on `*`) in the same transaction: a stop that began has its event.
    if (why) store.appendEvent({ entity: GLOBAL, type: 'pair-stop', time: Date.now(), fired: [], pid: process.pid, epoch, detail: `${why}: epoch ${epoch}` });
  });
}

/** `ham start` made this HAM: its `pair-start` event (on `*`), inside claimHam's transaction (its onClaim). */
export function pairStarted(store: Store, pid: number): void {
  const epoch = store.roles().epoch + 1; // the one claimHam is about to take
  store.appendEvent({ entity: GLOBAL, type: 'pair-start', time: Date.now(), fired: [], pid, epoch, detail: `ham start: epoch ${epoch}` });
}

/** The HAM leaves cleanly: nobody holds a role until the next `ham start`. */
export function release(store: Store, epoch: number): void {
  store.fenced(epoch, () => store.putRoles({ ...store.roles(), ham: null, guardian: null }));
}

/**
 * A resuming HAM's beat: its resume is synchronous (thousands of entities: seconds), so its loop
 * answers no probe meanwhile; its Guardian, spawned before it on `ham start`, sees the count move
 * in the store instead and does not take a long resume for a hang (resumeCount). -1: done.
 */
export function beatResume(store: Store, epoch: number, pid: number, n: number): void {
  store.fenced(epoch, () => store.putResumeBeat({ epoch, pid, n }));
}

/** Where the resume of the HAM of `epoch` (process `pid`) is: its count, -1 once done (or none of its). */
export function resumeCount(store: Store, epoch: number, pid: number): number {
  store.refresh();
  const b = store.resumeBeat();
  return b && b.epoch === epoch && b.pid === pid ? b.n : -1;
}
