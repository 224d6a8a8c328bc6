// Text that came from entities and detectors (their output, states, raise
// types, event details, error messages) must not drive the operator's
// terminal: C0 controls, DEL and C1 controls are shown as visible escapes
// (ESC [ 31 m → \x1b[31m). Newlines are kept where the CLI puts them (its
// line structure) and escaped inside a field. JSON already escapes C0; DEL
// and C1 are escaped there too (\u009b is the same string to a JSON reader).

const CONTROLS_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
const JSON_RAW = /[\u007f-\u009f]/g;

const NAMED: Record<string, string> = { '\t': '\\t', '\r': '\\r', '\n': '\\n' };
const visible = (c: string): string => NAMED[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;

/** A whole text for the terminal: every control escaped but its newlines. */
export function escapeText(s: string): string {
  return s.replace(CONTROLS_BUT_NEWLINE, visible);
}

/** One field inside a line: newlines escaped too (they are not structure there). */
export function escapeField(s: unknown): string {
  return String(s).replace(CONTROLS, visible);
}

/** A JSON text with DEL and C1 as \u escapes (JSON.stringify leaves them raw). */
export function jsonSafe(json: string): string {
  return json.replace(JSON_RAW, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
