// A keeper starts again the command it was started with (keeper.c holds the
// argv, env, cwd, output and readiness settings it got at its start), both when
// the HAM answers `r` and when it restarts by its standing order. After an apply
// changed any of them its keeper is stale (KeeperRef.stale, in the store, so a
// takeover knows it too): it gets no standing order (standing-orders.ts), and
// the next start lets it go and starts a new keeper with the new definition.
import { commandKeeper, removeKeeperDir, watchLife } from '../keeper/link.js';
import type { EntityRecord } from '../model/records.js';
import { isAlive } from '../proc/procfs.js';
import { restartingOf } from './lifecycle.js';
import type { SupervisorCore } from './supervisor-core.js';

/** Inside the apply's transaction, when what a keeper would start changed. */
export function markKeeperStale(x: EntityRecord): void {
  if (x.keeper) x.keeper.stale = true;
}

/**
 * Start the entity again after death record `seq`: by its keeper (`r`) while
 * that keeper holds the current definition, else by a new keeper (the stale
 * one told to exit; its folder removed once it has).
 */
export function restartByKeeper(core: SupervisorCore, e: EntityRecord, seq: number): void {
  const k = e.keeper;
  const alive = !!k && isAlive(k);
  if (k && alive && !k.stale && commandKeeper(core.paths, e.id, k.serial, 'r', seq)) return;
  if (k && alive && k.stale && commandKeeper(core.paths, e.id, k.serial, 'x', seq)) {
    core.log('info', 'its definition changed since its keeper started: a new keeper starts it', { entity: e.name });
    const { id } = e;
    const serial = k.serial;
    watchLife(core.paths, id, serial, () => removeKeeperDir(core.paths, id, serial));
  }
  core.parts.spawner.spawnNew(e.name, restartingOf(e.life));
}
