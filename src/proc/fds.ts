// What a daemon spawns inherits none of its fds but the stdio it is given:
// LMDB opens data.mdb without O_CLOEXEC, and whoever started us may have
// passed fds of theirs. Node has no fcntl, so a tiny addon (native/fds.c)
// marks every fd from 3 up close-on-exec. Node's spawn dup2()s the stdio it is
// given into the child (which clears the flag there), so that stays working.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

interface Addon {
  cloexecFrom(fd: number): void;
}

function loadAddon(): Addon | undefined {
  try {
    return createRequire(import.meta.url)(join(PACKAGE_ROOT, 'build', 'fds.node')) as Addon;
  } catch {
    return undefined;
  }
}

let addon: Addon | undefined | null = null;

/**
 * Mark every fd from 3 up close-on-exec. Called once a daemon's store is open
 * (its fds exist from then; everything Node opens later is close-on-exec
 * already). Returns false when it cannot (no addon built): nothing else changes.
 */
export function sealFds(): boolean {
  if (addon === null) addon = loadAddon();
  if (!addon) return false;
  try {
    addon.cloexecFrom(3);
    return true;
  } catch {
    return false;
  }
}
