// What a C keeper says of its entity's readiness (keeper-ready.c): not
// sequenced records but one cumulative state file in its folder, announced by
// a poke `ID-SERIAL-r` in the inbox (always that name, renamed over itself).
// Read strictly, like the records: a regular file, bounded, never through a
// link, never blocking; anything else is no state.
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadinessProbe } from '../model/readiness.js';

export interface ReadyState {
  instance: number;
  ready: boolean;
  reloading: boolean;
  stopping: boolean;
  /** WATCHDOG=1 beats this keeper saw (over all instances). */
  watchdog: number;
  /** EXTEND_TIMEOUT_USEC=: the deadline it asked for (epoch ms), 0: none. */
  extendUntil: number;
  /** Datagrams ignored (another process's, malformed), over all instances. */
  ignored: number;
  /** MAINPID=: the process the entity goes on as once its command ends (0: none said). */
  mainPid: number;
  /** MAINPID's start time (field 22 of /proc/PID/stat), 0: unknown (a keeper built before it was written). */
  mainStart: number;
  /** RELOADING=1 seen by this keeper for this instance. */
  reloads: number;
  /** `reloads` as it was at the last READY=1: a reload whose signal went at reloads R is done once this passes R. */
  reloaded: number;
  status: string;
}

/** A state is two short lines: numbers, then at most 256 bytes of STATUS text. */
export const MAX_STATE_BYTES = 512;
// The last three numbers are newer: a keeper still running from before them writes none.
const STATE = /^(\d{1,15}) ([01]) ([01]) ([01]) (\d{1,15}) (\d{1,15}) (\d{1,15}) (\d{1,7})(?: (\d{1,15}) (\d{1,15}) (\d{1,15}))?\n([^\n]*)\n$/;

/** A state file's text, or null if no keeper wrote it. */
export function parseReadyState(text: string): ReadyState | null {
  const m = STATE.exec(text);
  if (!m) return null;
  const n = (i: number): number => Number(m[i]);
  return {
    instance: n(1),
    ready: m[2] === '1',
    reloading: m[3] === '1',
    stopping: m[4] === '1',
    watchdog: n(5),
    extendUntil: n(6),
    ignored: n(7),
    mainPid: n(8),
    mainStart: m[9] === undefined ? 0 : n(9),
    reloads: m[10] === undefined ? 0 : n(10),
    reloaded: m[11] === undefined ? 0 : n(11),
    status: m[12]!,
  };
}

/** `ID-SERIAL-r`: a keeper's poke; null: not one. */
export function parsePoke(file: string): { id: number; serial: number } | null {
  const m = /^(0|[1-9]\d{0,14})-([1-9]\d{0,14})-r$/.exec(file);
  return m ? { id: Number(m[1]), serial: Number(m[2]) } : null;
}

/** The state in keeper folder `dir`, or null (none yet, or not one a keeper wrote). */
export function readReadyState(dir: string): ReadyState | null {
  let fd: number;
  try {
    fd = openSync(join(dir, 'ready'), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    if (!fstatSync(fd).isFile()) return null;
    const buf = Buffer.alloc(MAX_STATE_BYTES + 1);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return n > MAX_STATE_BYTES ? null : parseReadyState(buf.toString('utf8', 0, n));
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** sun_path's room (108 bytes with its NUL). */
const SUN_PATH_MAX = 107;
/** The longest home whose notify sockets fit in sun_path: HOME/run/notify/ID with ids of up to 10 digits. */
export const NOTIFY_HOME_MAX = SUN_PATH_MAX - '/run/notify/'.length - 10;

/**
 * Why notify readiness cannot be used in the home `root`, or undefined. There is no abstract-socket
 * fallback: an abstract name is listed in /proc/net/unix and any local user could bind it first
 * (while a keeper is replaced, say) and read the entity's datagrams or silence its READY=1.
 */
export function notifyHomeProblem(root: string): { expected: string; got: string } | undefined {
  const n = Buffer.byteLength(root);
  if (n <= NOTIFY_HOME_MAX) return undefined;
  return {
    expected: `expected a home of at most ${NOTIFY_HOME_MAX} bytes for notify readiness (its socket path must fit in 108 bytes): use a shorter --home`,
    got: `${root} (${n} bytes)`,
  };
}

/**
 * Where entity `id`'s keeper listens (notify: a socket) or reads (fd: a FIFO):
 * per entity, not per keeper, so a keeper that adopts it uses the same one.
 * `apply` refuses notify in a home too long for this path (notifyHomeProblem).
 */
export function readyPath(root: string, id: number, probe: Extract<ReadinessProbe, { kind: 'notify' | 'fd' }>): string {
  return join(root, 'run', 'notify', probe.kind === 'fd' ? `${id}.fd` : String(id));
}
