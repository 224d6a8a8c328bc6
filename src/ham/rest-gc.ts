// One full garbage collection once a burst of work (an apply, a HAM's start or
// takeover, a Guardian's start) is over. It stands for V8's memory reducer, which
// the daemons run without: that one repeats a full GC 8 s after the last (ours
// too), inside what should be the pair's idle time. V8 keeps a burst's garbage in the heap until its memory
// reducer runs, which V8 starts only once it finds the process idle, and it
// seldom finds the HAM so (often not before the reducer's 100 s watchdog):
// measured, a 100-entity apply left the HAM at 19 MiB of heap for 9 live past
// the harness's 10 s look, a 10,000-placeholder one at 152 MiB for 13 live for
// 100 s. The daemons run with --expose-gc (DAEMON_NODE_FLAGS); without
// it this does nothing. No timer runs while nothing happens: one is armed by a
// burst and ends in a GC or gives up.
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import type { Logger } from '../log.js';
import { dropCodePages } from '../proc/code-pages.js';

/** Quiet this long (the heap in use moved less than STILL_BYTES) before the GC. */
export const QUIET_MS = 2000;
const STILL_BYTES = 512 * 1024;
/** The second unmapping of code pages, this long after the GC. */
const LATER_DROP_MS = 5000;
/** Still busy after this many looks: no GC (a busy process collects as it goes). */
const MAX_LOOKS = 15;

const gc = (globalThis as { gc?: () => void }).gc;

let timer: NodeJS.Timeout | undefined;
let looks = 0;
let lastUsed = 0;
let log: Logger | undefined;

const used = (): number => getHeapStatistics().used_heap_size;

/** A burst just ended (or goes on): collect once the heap in use stops moving. */
export function afterBurst(logger: Logger): void {
  if (!gc) return;
  log = logger;
  looks = 0;
  lastUsed = used();
  if (timer) timer.refresh();
  else {
    timer = setTimeout(look, QUIET_MS);
    timer.unref(); // never what keeps the process alive
  }
}

/**
 * A compacting full GC: a plain one frees the garbage but leaves the pages it was on (live objects
 * scattered among them) in the heap. Compaction only for this one (a busy HAM's GCs stay short).
 */
function collect(): void {
  const before = getHeapStatistics().total_heap_size;
  const t0 = performance.now();
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc!();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
  // And the code its burst ran once (start-up, a takeover's reconcile) unmapped: see code-pages.ts.
  // Once more a while later: the burst's tail (records of what it started, the first requests)
  // ran code after the GC too.
  const codeKiB = dropCodePages();
  setTimeout(dropCodePages, LATER_DROP_MS).unref();
  const mib = (b: number): number => Math.round(b / 10485.76) / 100;
  log?.('debug', 'heap collected after a burst', {
    heapMiB: mib(before),
    nowMiB: mib(getHeapStatistics().total_heap_size),
    codeMiB: codeKiB === undefined ? null : Math.round(codeKiB / 10.24) / 100,
    ms: Math.round(performance.now() - t0),
  });
}

function look(): void {
  timer = undefined;
  const now = used();
  const still = Math.abs(now - lastUsed) < STILL_BYTES;
  if (still) return collect();
  if (++looks >= MAX_LOOKS) return;
  lastUsed = now;
  timer = setTimeout(look, QUIET_MS);
  timer.unref();
}
