// Resume: what a new HAM (a takeover, or `ham start` after the pair was down)
// does for each entity the store holds, re-deriving the next step from it.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readMarker } from '../keeper/launcher.js';
import { commandKeeper, keeperDir, removeKeeperDir } from '../keeper/link.js';
import { findProcesses, isAlive, procId } from '../proc/procfs.js';
import type { EntityRecord } from '../model/records.js';
import { awaitingOf, hasProcess, restartAtOf, restartingOf, stopWanted, unstoppedLife, viewState } from './lifecycle.js';
import type { SupervisorCore } from './supervisor-core.js';

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
  if (fresh && stopWanted(e.life)) {
    // `ham stop --all` stopped it; this `ham start` brings it back.
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
  const marked = e.keeper && e.keeper.pid === 0 ? readMarker(keeperDir(paths, e.id, e.keeper.serial)) : undefined;
  if (e.keeper && marked) {
    // A launcher's child started it (killed, that HAM or launcher, before its first record): the marker's pid is
    // the keeper's, exec'd by now or not yet (its folder is not yet in its command line). Taken as its keeper.
    if (!isAlive(marked)) return keepers.keeperGone(e.name, e.keeper.serial); // it died before its first record
    e = core.updateIfPresent(e.name, (rec) => void (rec.keeper && Object.assign(rec.keeper, marked))) ?? e;
    spawner.watchUnheard(e, marked);
  } else if (e.keeper && e.keeper.pid === 0) {
    // Killed between spawning a keeper and recording its pid: find it by its folder.
    const dir = keeperDir(paths, e.id, e.keeper.serial);
    const pid = findProcesses((argv) => argv.includes(dir))[0];
    const id = pid === undefined ? undefined : procId(pid);
    if (id) spawner.watchUnheard(e, id); // until its first record: its life FIFO is not open yet
    if (!id && e.life.tag === 'starting') {
      // Sent to the dead HAM's launcher, its child perhaps forked and not yet exec'd (it outlives the
      // launcher): the same keeper is started, so whichever makes the folder's marker first is the one.
      if (spawner.launcher && !existsSync(join(dir, 'spawned'))) return spawner.startKeeper(e);
      // Never spawned (the HAM died first; or an older launcher's empty marker, no pid to wait for): start it
      // now, as the restart it was (it counts, its conditions fire).
      core.updateIfPresent(e.name, (rec) => void (rec.keeper = null));
      return spawner.spawnSoon(e.name, undefined, restartingOf(e.life));
    }
    e = core.updateIfPresent(e.name, (rec) => void (rec.keeper && id && Object.assign(rec.keeper, id))) ?? e;
  }
  if (e.keeper && !isAlive(e.keeper)) return keepers.keeperGone(e.name, e.keeper.serial);
  if (e.keeper) {
    if (e.keeper.lastSeq >= 1) keepers.watch(e);
    const via = viewState(e.life) === 'starting' && restartingOf(e.life) ? awaitingOf(e.life) : null;
    if (via !== null) {
      commandKeeper(paths, e.id, e.keeper.serial, 'r', via); // may have been lost
    } else if (viewState(e.life) === 'dead' && restartAtOf(e.life) !== null) {
      restarts.schedule(e);
    } else if (!fresh && e.life.tag === 'stopping') {
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
