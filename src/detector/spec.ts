// How a detector declares itself: a `# ham: key=value ...` line among its
// first ten lines, or a sidecar `NAME.ham.json` with the same keys (the
// sidecar wins). Validated with zod: a bad header names the key, what was
// expected and what came, and that detector is not run.
import { z } from 'zod';
import { HamError } from '../errors.js';
import { validationError } from '../protocol/issues.js';
import { entityName } from '../protocol/requests.js';
import { envMap, noNul } from '../protocol/specs.js';

export const HEADER_LINES = 10;
const HEADER = /^\s*(?:#|\/\/|--|;)\s*ham:\s*(.*)$/;

/** `500ms`, `2s`, `1m`, `1h`, or a bare number of ms. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(n * unit);
}

const duration = (min: number, max: number) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms < min || ms > max) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `expected a duration from ${min} ms to ${max / 1000} s, such as 500ms, 2s or 1m` });
      return z.NEVER;
    }
    return ms;
  });

export const DEFAULTS = { intervalMs: 10_000, timeoutMs: 5_000, tries: 3 } as const;

const specSchema = z
  .object({
    kind: z.enum(['check', 'stream'], { errorMap: () => ({ message: 'expected check or stream' }) }),
    entity: entityName.optional(),
    interval: duration(100, 86_400_000).optional(),
    timeout: duration(10, 3_600_000).optional(),
    tries: z.coerce.number().int().min(1).max(1000).optional(),
    args: z.array(z.string().max(4096).refine(noNul, 'expected no NUL byte')).max(256).default([]),
    env: envMap.default({}),
  })
  .strict()
  .refine((s) => s.kind !== 'check' || s.entity !== undefined, { message: 'expected entity=NAME: a check raises on its entity', path: ['entity'] })
  // Defaults filled: `entity` null for a stream that names none (its lines may name others).
  .transform((s) => {
    const intervalMs = s.interval ?? DEFAULTS.intervalMs;
    return {
      kind: s.kind,
      entity: s.entity ?? null,
      intervalMs,
      timeoutMs: s.timeout ?? Math.min(DEFAULTS.timeoutMs, intervalMs),
      tries: s.tries ?? DEFAULTS.tries,
      args: s.args,
      env: s.env,
    };
  });

/** A detector's declaration, checked and with its defaults; `source`: where it was declared, for messages. */
export type DetectorSpec = z.output<typeof specSchema> & { source: 'header' | 'sidecar' };

/** The header's key=value pairs (values may be quoted). */
export function headerFields(text: string): Record<string, string> | undefined {
  const lines = text.split('\n', HEADER_LINES + 1).slice(0, HEADER_LINES);
  for (const line of lines) {
    const m = HEADER.exec(line);
    if (!m) continue;
    const out: Record<string, string> = {};
    const re = /([A-Za-z]+)=("([^"]*)"|'([^']*)'|(\S*))/g;
    const rest = m[1]!.trim();
    let consumed = 0;
    for (const f of rest.matchAll(re)) {
      const gap = rest.slice(consumed, f.index).trim();
      if (gap) throw new HamError({ code: 'bad-detector', message: `header: expected key=value pairs, got ${JSON.stringify(gap)}` });
      out[f[1]!] = f[3] ?? f[4] ?? f[5] ?? '';
      consumed = f.index! + f[0].length;
    }
    const tail = rest.slice(consumed).trim();
    if (tail) throw new HamError({ code: 'bad-detector', message: `header: expected key=value pairs, got ${JSON.stringify(tail)}` });
    return out;
  }
  return undefined;
}

/** Validate declared fields (from a header or a sidecar) into a spec with defaults. */
export function toSpec(fields: unknown, source: DetectorSpec['source']): DetectorSpec {
  const r = specSchema.safeParse(fields);
  if (!r.success) throw validationError(source, fields, r.error);
  return { ...r.data, source };
}

/** The spec of a detector from its text and optional sidecar JSON. */
export function readSpec(text: string, sidecar: string | undefined): DetectorSpec {
  if (sidecar !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(sidecar);
    } catch (e) {
      throw new HamError({ code: 'bad-detector', message: `sidecar: expected JSON, got a parse error: ${(e as Error).message}` });
    }
    return toSpec(parsed, 'sidecar');
  }
  const fields = headerFields(text);
  if (!fields)
    throw new HamError({
      code: 'bad-detector',
      message: `expected a "# ham: kind=check|stream ..." line among the first ${HEADER_LINES} lines, or a sidecar NAME.ham.json; found neither`,
    });
  return toSpec(fields, 'header');
}
