// The one formatter of validation problems. A request, a detector's header,
// a stream's line and an `apply` file are all checked with zod; every problem
// becomes an Issue ({ path, expected, got }) here, and one HamError carries
// them as data (`issues`) and as text (`message`) for humans.
import type { z } from 'zod';
import { describe, HamError, type ErrorCode } from '../model/errors.js';
import type { Issue } from '../model/failures.js';

export type Path = (string | number)[];

/** A key that reads plainly in a path; any other (empty, spaces, dots, control characters) is quoted. */
const PLAIN_KEY = /^[^\u0000-\u001f\u007f-\u009f.[\]"\s]+$/;

/** A key in a path is cut past this many characters: a huge key must not make every issue under it huge. */
const KEY_MAX = 128;

/** `a.b[1].c` from a zod-style path; odd keys as `entities["a b"]`, so a path is one line and unambiguous. */
export function pathText(path: Path): string {
  return path
    .map((p, i) => {
      if (typeof p === 'number') return `[${p}]`;
      const k = p.length > KEY_MAX ? `${p.slice(0, KEY_MAX)}…(${p.length} characters)` : p;
      return !PLAIN_KEY.test(p) || k !== p ? `[${JSON.stringify(k)}]` : i === 0 ? k : `.${k}`;
    })
    .join('');
}

/** What came, when an issue says it better than the value at its path (see envMap in specs.ts). */
function issueGot(issue: z.ZodIssue): string | undefined {
  const got = issue.code === 'custom' ? (issue.params as { got?: unknown } | undefined)?.got : undefined;
  return typeof got === 'string' ? got : undefined;
}

function pick(v: unknown, path: Path): unknown {
  let cur = v;
  for (const k of path) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

/**
 * zod's issues on `input` (found at `prefix`), as Issues: an unknown key by its own path, with the
 * nearest of `known` (the fields allowed at `prefix`) when one is close (a typo: `entitys`).
 */
export function zodIssues(prefix: Path, input: unknown, err: { issues: z.ZodIssue[] }, known: readonly string[] = []): Issue[] {
  return err.issues.flatMap((i): Issue[] => {
    const at = [...prefix, ...i.path];
    if (i.code === 'unrecognized_keys')
      return i.keys.map((k) => {
        const near = i.path.length === 0 ? nearest(k, known) : undefined;
        return { path: pathText([...at, k]), expected: `unexpected field${near ? ` (did you mean ${near}?)` : ''}` };
      });
    const got = issueGot(i) ?? describe(pick(input, i.path));
    const oneOf = i.code === 'invalid_union_discriminator' || (i.code === 'invalid_enum_value' && i.message.startsWith('Invalid enum value'));
    const expected = oneOf ? `expected one of ${i.options.join(', ')}` : i.code === 'invalid_type' ? `expected ${i.expected}` : i.message;
    return [{ path: pathText(at), expected, got }];
  });
}

/** The one of `known` within a small edit distance of `key` (a third of its length, at most 3), or undefined. */
export function nearest(key: string, known: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const max = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(key.toLowerCase(), k.toLowerCase());
    if (d <= max && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** One issue, for humans: `entities.web.command: expected array, got "x"`. */
export function formatIssue(i: Issue): string {
  const text = `${i.path ? `${i.path}: ` : ''}${i.expected}${i.got !== undefined ? `, got ${i.got}` : ''}`;
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

export interface IssuesErrorOptions {
  code?: ErrorCode;
  entity?: string;
  /** At most this many issues are kept (a huge bad input must not make a huge reply). */
  max: number;
  /** A head line (`3 problems in the configuration:`) and one issue a line; without it, one line joined by `; `. */
  head?: string;
}

/**
 * The lines of a multi-line error: the same problem in three or more entities (one typo copied into
 * every entity of a generated file) is one line naming them, not a hundred identical lines.
 */
export function issueLines(issues: Issue[]): string[] {
  const key = (i: Issue): string | undefined => {
    const m = /^entities\.([^.[\]]+)(.*)$/.exec(i.path);
    return m ? `${m[2]}\u0000${i.expected}\u0000${i.got ?? ''}` : undefined;
  };
  const groups = new Map<string, Issue[]>();
  for (const i of issues) {
    const k = key(i);
    if (k !== undefined) groups.set(k, [...(groups.get(k) ?? []), i]);
  }
  const out: string[] = [];
  const done = new Set<string>();
  for (const i of issues) {
    const k = key(i);
    const same = k === undefined ? undefined : groups.get(k);
    if (!same || same.length < 3) {
      out.push(formatIssue(i));
      continue;
    }
    if (done.has(k!)) continue;
    done.add(k!);
    const names = same.map((x) => /^entities\.([^.[\]]+)/.exec(x.path)![1]!);
    const shown = names.length > 5 ? `${names.slice(0, 4).join(', ')}, … ${names[names.length - 1]}` : names.join(', ');
    const rest = same[0]!.path.slice(`entities.${names[0]}`.length);
    out.push(formatIssue({ ...same[0]!, path: `entities.*${rest} (in ${names.length} entities: ${shown})` }));
  }
  return out;
}

/** One error listing every issue (up to `max`), as text and as data. */
export function issuesError(issues: Issue[], o: IssuesErrorOptions): HamError {
  const kept = issues.slice(0, o.max);
  const n = issues.length;
  const message =
    o.head !== undefined
      ? [`${n} problem${n > 1 ? 's' : ''} ${o.head}${n > o.max ? ` (the first ${o.max})` : ''}:`, ...issueLines(kept)].join('\n')
      : kept.map(formatIssue).join('; ') + (n > o.max ? `; and ${n - o.max} more` : '');
  return new HamError({ code: o.code ?? 'bad-request', entity: o.entity, message, issues: kept });
}

/** A failed zod parse of `input` (named `prefix`), as one error. */
export function validationError(prefix: string, input: unknown, err: z.ZodError, max = MAX_ISSUES): HamError {
  return issuesError(zodIssues(prefix === '' ? [] : [prefix], input, err), { max });
}

/** At most this many problems are listed in one error from a request. */
export const MAX_ISSUES = 10;
