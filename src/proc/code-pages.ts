// An idle daemon's code pages unmapped (native/pages.c): the node binary's text and read-only
// data that its start-up touched stay in the page cache (shared, reclaimable) but no longer count
// as this process's memory; what it runs again is mapped again on first touch (a minor fault).
// Called once a burst is over (rest-gc.ts). No addon built (no compiler): nothing is dropped.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../paths.js';

interface Addon {
  dropCodePages(): number;
}

let addon: Addon | undefined | null = null;

/** The kB of code and read-only data that were resident in what was dropped, or undefined (no addon). */
export function dropCodePages(): number | undefined {
  if (addon === null) {
    try {
      addon = createRequire(import.meta.url)(join(PACKAGE_ROOT, 'build', 'pages.node')) as Addon;
    } catch {
      addon = undefined;
    }
  }
  try {
    return addon?.dropCodePages();
  } catch {
    return undefined;
  }
}
