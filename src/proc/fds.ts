// What a daemon spawns inherits none of its fds but the stdio it is given:
// LMDB opens data.mdb without O_CLOEXEC, and whoever started us may have
// passed fds of theirs. Node has no fcntl, so a tiny addon (native/fds.c)
// marks every fd from 3 up close-on-exec. Node's spawn dup2()s the stdio it is
// given into the child (which clears the flag there), so that stays working.
import { closeSync, constants as fsc, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { HamError } from '../model/errors.js';
import { PACKAGE_ROOT } from '../paths.js';

interface Addon {
  cloexecFrom(fd: number): void;
  lockExclusive?(fd: number): boolean;
}

function loadAddon(): Addon | undefined {
  try {
    return createRequire(import.meta.url)(join(PACKAGE_ROOT, 'build', 'fds.node')) as Addon;
  } catch {
    return undefined;
  }
}

let addon: Addon | undefined | null = null;

function theAddon(): Addon | undefined {
  if (addon === null) addon = loadAddon();
  return addon;
}

/**
 * Mark every fd from 3 up close-on-exec. Called once a daemon's store is open
 * (its fds exist from then; everything Node opens later is close-on-exec
 * already). Returns false when it cannot (no addon built): nothing else changes.
 */
export function sealFds(): boolean {
  const a = theAddon();
  if (!a) return false;
  try {
    a.cloexecFrom(3);
    return true;
  } catch {
    return false;
  }
}

/** How long a daemon waits for the claim lock: its holder keeps it for milliseconds, unless it is stopped. */
export const CLAIM_LOCK_WAIT_MS = 10_000;

/**
 * Hold the home's claim lock (flock on `path`) until the returned release is called. Daemons that
 * open the store and claim the HAM role at once (concurrent `ham start`s on a new home) do it one
 * after the other: once, two such starts both claimed epoch 1 (a rare race in the store's first
 * open, not understood yet). flock, not fcntl: closing it never drops LMDB's fcntl locks on the
 * store. Waited for up to `waitMs`, then refused naming the lock (its holder is stopped or hung).
 * Without the addon: no lock (the store's own exclusion, as before).
 */
export function holdClaimLock(path: string, waitMs = CLAIM_LOCK_WAIT_MS): () => void {
  const lock = theAddon()?.lockExclusive;
  if (!lock) return () => {};
  const fd = openSync(path, fsc.O_RDWR | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600); // libuv adds O_CLOEXEC
  try {
    const deadline = Date.now() + waitMs;
    while (!lock(fd)) {
      if (Date.now() > deadline)
        throw new HamError({
          code: 'timeout',
          message: `${path}: another daemon has held the claim lock for over ${waitMs} ms (expected it for milliseconds: is it stopped?)`,
        });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // the daemon has nothing else to do yet
    }
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return () => closeSync(fd);
}
