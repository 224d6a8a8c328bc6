// Resume: what a new HAM (a takeover, or `ham start` after the pair was down)
// does for each entity the store holds, re-deriving the next step from it.
import { readMarker } from '../keeper/launcher.js';
import { commandKeeper, keeperDir, removeKeeperDir } from '../keeper/link.js';
import { isAlive, procId } from '../proc/procfs.js';
import { keeperProcesses } from '../proc/keepers.js';
import type { EntityRecord } from '../model/records.js';
import { awaitingOf, hasProcess, keptStopped, restartAtOf, restartingOf, stopWanted, unstoppedLife, viewState } from './lifecycle.js';
import { restartByKeeper } from './stale-keeper.js';
import type { SupervisorCore } from './supervisor-core.js';

/**
 * Keepers by folder, from one scan of /proc per reconcile pass (one synchronous loop over the
 * entities, so it is dropped at the next turn): a scan per entity not yet heard of was a read of
 * every process's command line each, seconds of the loop with hundreds of them.
 */
let scanned: Map<string, number> | undefined;
function keeperByDir(paths: SupervisorCore['paths'], dir: string): number | undefined {
  if (!scanned) {
    const prefix = `${paths.keepers}/`;
    scanned = new Map();
    for (const k of keeperProcesses(paths.keepers)) {
      const d = k.argv.find((a) => a.startsWith(prefix)); // its folder: in its arguments as it was started (keepers.ts)
      if (d !== undefined) scanned.set(d, k.pid);
    }
    setImmediate(() => (scanned = undefined));
  }
  return scanned.get(dir);
}

/** `fresh`: a `ham start` (entities a `stop --all` stopped start again), else a takeover. */
export function reconcile(core: SupervisorCore, e: EntityRecord, fresh: boolean): void {
  const { paths } = core;
  const { coord } = core.with;
  const { keepers, holds, spawner, restarts, stops } = core.parts;
  if (e.kind === 'placeholder' || e.kind === 'global') return;
  if (e.kind === 'self' && stopWanted(e.life)) e = core.updateIfPresent(e.name, (rec) => void (rec.life = unstoppedLife(rec.life))) ?? e; // not ours to stop or start
  if (!fresh && e.life.tag === 'held') {
    // Held by a group restart or a requirement when the previous HAM died: bring it back when it may.
    if (e.keeper && isAlive(e.keeper)) keepers.releaseIfDone(e); // its keeper may never have been let go
    if (e.life.why === 'requires' ? coord.requirementsUp(e) : !coord.waitsForGroup(e)) void holds.startNow(e.name, e.instance > 0);
    return;
  }
  if (fresh && stopWanted(e.life) && !keptStopped(e.life)) {
    // `ham stop --all` stopped it; this `ham start` brings it back (one `ham stop NAME` stopped stays stopped).
    const seq = awaitingOf(e.life);
    if (!hasProcess(e.life) && e.argv.length > 0) {
      if (e.keeper && seq !== null) commandKeeper(paths, e.id, e.keeper.serial, 'x', seq);
      if (e.keeper) removeKeeperDir(paths, e.id, e.keeper.serial);
      // Started afresh (or held instead) as if never started: its hold, if any, is decided anew.
      core.updateIfPresent(e.name, (rec) => {
        rec.keeper = null;
        rec.life = { tag: 'idle' };
      });
      return spawner.spawnSoon(e.name);
    }
    e = core.updateIfPresent(e.name, (rec) => void (rec.life = unstoppedLife(rec.life))) ?? e;
  }
  if (spawner.launching(e)) return; // this HAM's own start, under way (the inbox ran first): its records follow
  if (e.keeper && e.keeper.pid === 0) {
    // Killed between starting a keeper and its first record: find it by its folder. A scan first, then the
    // marker: a launcher's child makes the marker before its exec, so one that exec'd since has a marker.
    const dir = keeperDir(paths, e.id, e.keeper.serial);
    const pid = keeperByDir(paths, dir);
    const id = pid === undefined ? undefined : procId(pid);
    const marker = id ? 'none' : readMarker(dir);
    if (typeof marker === 'object') {
      // The launcher's child, exec'd since or not yet (its folder not yet in its command line): its pid and
      // start time are the keeper's (an exec keeps both). Gone: it died before its first record.
      if (!isAlive(marker)) return keepers.keeperGone(e.name, e.keeper.serial);
      e = core.updateIfPresent(e.name, (rec) => void (rec.keeper && Object.assign(rec.keeper, marker))) ?? e;
      spawner.watchUnheard(e, marker); // until its first record: its life FIFO is not open yet
    } else if (id) {
      e = core.updateIfPresent(e.name, (rec) => void (rec.keeper && Object.assign(rec.keeper, id))) ?? e;
      spawner.watchUnheard(e, id);
    } else if (e.life.tag === 'starting') {
      // Sent to the dead HAM's launcher, its child perhaps forked and not yet at its marker (it outlives the
      // launcher): the same keeper is started, so whichever makes the folder's marker first is the one.
      if (spawner.launcher && marker === 'none') return spawner.startKeeper(e);
      // Never spawned (the HAM died first; or an older launcher's marker, with no pid to wait for): start it
      // now, as the restart it was (it counts, its conditions fire).
      core.updateIfPresent(e.name, (rec) => void (rec.keeper = null));
      return spawner.spawnSoon(e.name, undefined, restartingOf(e.life));
    }
  }
  if (e.keeper && !isAlive(e.keeper)) return keepers.keeperGone(e.name, e.keeper.serial);
  if (e.keeper) {
    if (e.keeper.lastSeq >= 1) keepers.watch(e);
    const via = viewState(e.life) === 'starting' && restartingOf(e.life) ? awaitingOf(e.life) : null;
    if (via !== null) {
      restartByKeeper(core, e, via); // may have been lost (a stale keeper: replaced)
    } else if (viewState(e.life) === 'dead' && restartAtOf(e.life) !== null) {
      restarts.schedule(e);
    } else if ((!fresh || keptStopped(e.life)) && e.life.tag === 'stopping') {
      void stops.resume(e.name);
    } else {
      keepers.releaseIfDone(e);
    }
    return;
  }
  if (e.life.tag === 'running' || e.life.tag === 'starting') {
    if (e.pid !== null && e.pidStart !== null && isAlive({ pid: e.pid, start: e.pidStart })) return spawner.spawnSoon(e.name, e.pid);
    if (e.argv.length > 0) return spawner.spawnSoon(e.name);
  }
  if (viewState(e.life) === 'dead' && restartAtOf(e.life) !== null) restarts.schedule(e);
}
