// What an import produces before it is printed: entities in the apply file's
// shape, each with the notes on what it could not carry over (printed as
// YAML comments next to it), and the file-level notes.
import { HamError } from '../model/errors.js';

export interface ImportedEntity {
  name: string;
  /** The entity's fields, in the apply file's shape (docs/reference.md). */
  fields: Record<string, unknown>;
  notes: string[];
}

export interface Imported {
  /** What was read (for the header line). */
  source: string;
  entities: ImportedEntity[];
  groups: Record<string, { strategy: 'one-for-one' | 'one-for-all' | 'rest-for-one' }>;
  notes: string[];
}

/** The one error shape, naming the file (and the line, when there is one). */
export function importError(file: string, line: number | undefined, message: string): HamError {
  return new HamError({ code: 'bad-request', message: `${file}${line ? `:${line}` : ''}: ${message}` });
}

/** A death condition whose action restarts the entity: what "restart it when it dies" is in ham. */
export function restartOn(type: 'death' | 'abnormal-death'): Record<string, unknown> {
  return { died: { type, rearm: true, actions: [{ kind: 'restart' }] } };
}

const DAY = 86_400_000;
/** A time clamped to what the apply schema takes for a restart policy (a day). */
export const clampMs = (ms: number): number => Math.max(0, Math.min(DAY, Math.round(ms)));

/** The entity name an apply file accepts: other characters become `-`, cut at 64. */
export function entityNameOf(raw: string): string {
  const n = raw.replace(/[^A-Za-z0-9_.:@+-]/g, '-').slice(0, 64);
  return n === '' || n === '*' ? 'unnamed' : n;
}

/** A value shown in a note: short, on one line. */
export function shown(v: unknown): string {
  const s = typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v));
  const one = s.replace(/[\r\n]+/g, ' ');
  return one.length > 120 ? `${one.slice(0, 117)}...` : one;
}

/** Each entity once: two sources that become one name (`a b` and `a-b`) would be one YAML key twice. */
export function checkUnique(entities: ImportedEntity[], file: string): void {
  const seen = new Set<string>();
  for (const e of entities) {
    if (seen.has(e.name)) throw importError(file, undefined, `two entities would be named ${JSON.stringify(e.name)}: ham needs each name once (rename one)`);
    seen.add(e.name);
  }
}
