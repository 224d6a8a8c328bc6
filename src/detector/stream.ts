// A stream detector's output: one JSON event a line. Everything it prints is
// untrusted: lines are bounded in length, events in rate (a token bucket),
// and anything that is not a valid event is counted and reported with the
// detector's name, never thrown at the HAM.
import { z } from 'zod';
import { describe } from '../errors.js';
import { validationError } from '../protocol/issues.js';
import { entityName } from '../protocol/requests.js';

export const MAX_LINE = 4096;
/** Sustained events per second a stream may publish, and the burst above it. */
export const RATE_PER_S = 200;
export const BURST = 400;

/** Free text for humans (e.g. the log line that matched), kept with the event. */
const detail = z.string().max(1024).optional();
const raiseLine = z
  .object({
    entity: entityName.optional(),
    raise: z.object({ type: z.string().min(1).max(128), class: z.string().min(1).max(128).optional(), severity: z.number().int().optional() }).strict(),
    detail,
  })
  .strict();
const stateLine = z.object({ entity: entityName.optional(), state: z.string().min(1).max(128), detail }).strict();

export type StreamEvent = z.output<typeof raiseLine> | z.output<typeof stateLine>;

const SHAPE = 'expected {"entity"?, "raise": {"type", "class"?, "severity"?}} or {"entity"?, "state"} (and "detail"?)';

/** Parse one line: an event, or why it is not one (naming the field that is wrong). */
export function parseLine(line: string): { event: StreamEvent } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: `expected one JSON object a line, got ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: `${SHAPE}, got ${describe(v)}` };
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(v, k);
  if (has('raise') === has('state'))
    return {
      error: `${SHAPE}, got ${
        has('raise')
          ? 'both "raise" and "state"'
          : `an object with ${
              Object.keys(v)
                .slice(0, 5)
                .map((k) => JSON.stringify(k.slice(0, 32)))
                .join(', ') || 'no fields'
            }`
      }`,
    };
  // One schema per shape: a wrong field is named by its path (`line.raise.severity: expected number, got ...`).
  const r = (has('raise') ? raiseLine : stateLine).safeParse(v);
  if (!r.success) return { error: validationError('line', v, r.error).message.slice(0, 300) };
  return { event: r.data };
}

/** Splits a byte stream into lines, dropping (and counting) the over-long ones. */
export class LineSplitter {
  private buf = '';
  private skipping = false;
  tooLong = 0;

  push(chunk: string, onLine: (line: string) => void): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      const part = chunk.slice(start, nl < 0 ? undefined : nl);
      if (this.skipping) {
        if (nl >= 0) this.skipping = false;
      } else if (this.buf.length + part.length > MAX_LINE) {
        this.tooLong += 1;
        this.buf = '';
        this.skipping = nl < 0; // skip the rest of it, up to its newline
      } else if (nl >= 0) {
        const line = this.buf + part;
        this.buf = '';
        if (line.trim()) onLine(line);
      } else this.buf += part;
      if (nl < 0) return;
      start = nl + 1;
    }
  }
}

/** A token bucket: `take()` is false when the stream is over its rate. */
export class RateLimit {
  private tokens = BURST;
  private at = performance.now();
  dropped = 0;

  /** No token left right now. */
  empty(): boolean {
    return this.tokens < 1;
  }

  take(): boolean {
    const now = performance.now();
    this.tokens = Math.min(BURST, this.tokens + ((now - this.at) / 1000) * RATE_PER_S);
    this.at = now;
    if (this.tokens < 1) {
      this.dropped += 1;
      return false;
    }
    this.tokens -= 1;
    return true;
  }
}
