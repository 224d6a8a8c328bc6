// Bounds on what the store holds. lmdb-js grows its memory map by itself
// (its LMDB fork resizes on demand), so LMDB never says "full": the bound is
// ours. Requests that make the store grow on a user's behalf (store, apply,
// attach, condition/action add) are refused with `store-full` once the pages
// in use reach the user share of `storeMaxBytes`; the rest is kept for what
// the HAM itself records (deaths, events, runs, roles), which is bounded by
// construction: at most EVENTS_KEPT events, each bounded here.
import { encodedSize } from '../model/encoding.js';
import { HamError } from '../model/errors.js';
import type { Failure } from '../model/failures.js';
import type { EventRecord } from '../model/conditions.js';
import type { StoreUse } from '../model/limits.js';
import type { Settings } from '../model/records.js';

/** The share of `storeMaxBytes` kept for runtime records: user-driven growth stops before it. */
export const RUNTIME_RESERVE = 0.25;
/** An event's free text is cut to this many characters... */
export const EVENT_DETAIL_MAX = 1024;
/** ...and it lists at most this many fired conditions (the rest are counted in `firedMore`). */
export const EVENT_FIRED_MAX = 32;

/** What the store uses now, against its limit. */
export function storeUse(usedBytes: number, s: Settings): StoreUse {
  return { usedBytes, limitBytes: s.storeMaxBytes, userLimitBytes: Math.floor(s.storeMaxBytes * (1 - RUNTIME_RESERVE)) };
}

const mib = (n: number): string => `${(n / (1024 * 1024)).toFixed(1)} MiB`;

/**
 * Refuse a user-driven write of about `incoming` bytes that would take the
 * store past its user share. `what` names the request for the message.
 */
export function refuseGrowth(use: StoreUse, what: string, incoming = 0): void {
  if (use.usedBytes + incoming <= use.userLimitBytes) return;
  throw new HamError({
    code: 'store-full',
    message: `${what}: the store is full: ${mib(use.usedBytes)} in use${incoming ? ` and ${mib(incoming)} more asked` : ''}, at most ${mib(use.userLimitBytes)} for configuration and saved states (${Math.round((1 - RUNTIME_RESERVE) * 100)}% of the store limit ${mib(use.limitBytes)}, settings.storeMaxBytes; the rest is kept for events and deaths). Detach entities or store smaller values`,
  });
}

/** The encoded size of a value to save; over `savedMaxBytes`, a `too-large` error (the previous value is kept). */
export function checkSaved(name: string, value: unknown, s: Settings): number {
  const size = encodedSize(value);
  if (size > s.savedMaxBytes) {
    throw new HamError({
      code: 'too-large',
      entity: name,
      message: `store: the value for ${JSON.stringify(name)} is ${size} bytes encoded, at most ${s.savedMaxBytes} allowed (settings.savedMaxBytes); the previous value is kept`,
    });
  }
  return size;
}

/** A failure in an event: at most this many arguments, each cut to this many characters (its texts to EVENT_DETAIL_MAX). */
export const EVENT_ARGV_MAX = 16;
export const EVENT_ARG_MAX = 256;

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max - 1)}…` : s);

/** A failure as an event holds it: its arguments and its texts bounded. */
export function boundFailure(f: Failure): Failure {
  const out: Failure = { ...f };
  if (f.argv) out.argv = f.argv.slice(0, EVENT_ARGV_MAX).map((a) => cut(a, EVENT_ARG_MAX));
  if (f.argv && f.argv.length > EVENT_ARGV_MAX) out.argv!.push(`… ${f.argv.length - EVENT_ARGV_MAX} more`);
  if (f.stderrTail !== undefined) out.stderrTail = f.stderrTail.length > EVENT_DETAIL_MAX ? `…${f.stderrTail.slice(-(EVENT_DETAIL_MAX - 1))}` : f.stderrTail;
  if (f.lastLine !== undefined) out.lastLine = cut(f.lastLine, EVENT_DETAIL_MAX);
  if (f.startError !== undefined) out.startError = cut(f.startError, EVENT_DETAIL_MAX);
  return out;
}

/** An event as stored: its free text, its failure and its list of fired conditions bounded. */
export function boundEvent<E extends Omit<EventRecord, 'seq'>>(e: E): E {
  if (e.failure) e = { ...e, failure: boundFailure(e.failure) };
  const long = e.detail !== undefined && e.detail.length > EVENT_DETAIL_MAX;
  const many = e.fired.length > EVENT_FIRED_MAX;
  if (e.coalesced && e.coalesced.length > EVENT_FIRED_MAX) e = { ...e, coalesced: e.coalesced.slice(0, EVENT_FIRED_MAX) };
  if (!long && !many) return e;
  const out = { ...e };
  if (long) out.detail = `${e.detail!.slice(0, EVENT_DETAIL_MAX - 1)}…`;
  if (many) {
    out.fired = e.fired.slice(0, EVENT_FIRED_MAX);
    (out as E & { firedMore?: number }).firedMore = e.fired.length - EVENT_FIRED_MAX;
  }
  return out;
}
