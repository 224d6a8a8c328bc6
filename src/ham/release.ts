// `ham stop --all` lets every keeper go, so none waits on its ctl FIFO for a
// HAM that will not come. What stopAll stopped waits on a death record: told
// to exit. The rest watch a process that is not ours to stop (a self-attached
// client, or one that outlived its stop): told to detach (SIGUSR1), leaving
// it running. The store keeps the keeper as it was: the next `ham start` finds
// it gone and re-adopts a process that still runs, or records its death.
import type { HomePaths } from '../home.js';
import { commandKeeper, detachKeeper } from '../keeper/link.js';
import { isAlive } from '../proc/procfs.js';
import type { EntityRecord } from '../model/records.js';
import { awaitingOf } from './lifecycle.js';

/** Release every live keeper of `entities`; `unwatch` first, so its EOF is not taken for a death. Returns how many. */
export function releaseKeepers(paths: HomePaths, entities: EntityRecord[], unwatch: (name: string) => void): number {
  let n = 0;
  for (const e of entities) {
    if (!e.keeper || e.keeper.pid === 0 || !isAlive(e.keeper)) continue;
    unwatch(e.name);
    const seq = awaitingOf(e.life);
    if (seq === null || !commandKeeper(paths, e.id, e.keeper.serial, 'x', seq)) detachKeeper(e.keeper);
    n += 1;
  }
  return n;
}
