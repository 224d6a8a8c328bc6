// Env files (`envFile:`), read by the HAM at `apply` so that a problem names the
// file and its line, and nothing is changed: `KEY=VALUE` lines, `#` comments,
// blank lines, an optional `export `, and values bare (trimmed), 'single-quoted'
// (as written) or "double-quoted" (\n \t \" \\ \$ escapes; may span lines).
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';

/** An env file's bound: far more than any real one, small enough to keep in the store. */
export const ENV_FILE_MAX_BYTES = 256 * 1024;

export type EnvFileResult = { ok: true; env: Record<string, string> } | { ok: false; line: number; expected: string; got?: string };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\', $: '$' };

/** Parse an env file's text (pure). */
export function parseEnvFile(text: string): EnvFileResult {
  const env: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.replace(/\r$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const body = t.startsWith('export ') ? t.slice(7).trimStart() : t;
    const eq = body.indexOf('=');
    if (eq < 0) return { ok: false, line: lineNo, expected: 'expected KEY=VALUE, a # comment or a blank line', got: JSON.stringify(t.slice(0, 60)) };
    const key = body.slice(0, eq).trim();
    if (!NAME.test(key))
      return {
        ok: false,
        line: lineNo,
        expected: 'expected a variable name (letters, digits, _; not starting with a digit)',
        got: JSON.stringify(key.slice(0, 60)),
      };
    let rest = body.slice(eq + 1).trimStart();
    let value: string;
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) return { ok: false, line: lineNo, expected: "expected a closing ' on the same line" };
      value = rest.slice(1, end);
      rest = rest.slice(end + 1);
    } else if (rest.startsWith('"')) {
      value = '';
      let j = 1;
      const start = i;
      for (;;) {
        if (j >= rest.length) {
          if (++i >= lines.length) return { ok: false, line: start + 1, expected: 'expected a closing " (the file ends inside the value)' };
          value += '\n';
          rest = lines[i]!.replace(/\r$/, '');
          j = 0;
          continue;
        }
        const c = rest[j]!;
        if (c === '"') break;
        if (c === '\\' && j + 1 < rest.length) {
          const n = rest[j + 1]!;
          value += ESCAPES[n] ?? `\\${n}`;
          j += 2;
          continue;
        }
        value += c;
        j++;
      }
      rest = rest.slice(j + 1);
    } else {
      // A bare value: up to an unquoted ` #` comment, trimmed.
      const hash = rest.search(/\s#/);
      value = (hash < 0 ? rest : rest.slice(0, hash)).trim();
      rest = '';
    }
    const after = rest.trim();
    if (after !== '' && !after.startsWith('#'))
      return { ok: false, line: i + 1, expected: 'expected nothing but a # comment after the quoted value', got: JSON.stringify(after.slice(0, 60)) };
    if (value.includes('\0')) return { ok: false, line: lineNo, expected: 'expected no NUL byte in a value' };
    env[key] = value;
  }
  return { ok: true, env };
}

/** Read and parse the env file at `path` (absolute), bounded; a problem says what was expected and what came. */
export function readEnvFile(path: string): EnvFileResult {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, line: 0, expected: 'expected a readable env file', got: err.code ?? err.message };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { ok: false, line: 0, expected: 'expected a regular file', got: st.isDirectory() ? 'a directory' : 'not a regular file' };
    if (st.size > ENV_FILE_MAX_BYTES) return { ok: false, line: 0, expected: `expected at most ${ENV_FILE_MAX_BYTES} bytes`, got: `${st.size} bytes` };
    const buf = Buffer.alloc(ENV_FILE_MAX_BYTES + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, n)) > 0;) n += got;
    if (n > ENV_FILE_MAX_BYTES) return { ok: false, line: 0, expected: `expected at most ${ENV_FILE_MAX_BYTES} bytes`, got: 'more' };
    return parseEnvFile(buf.toString('utf8', 0, n));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { ok: false, line: 0, expected: 'expected a readable env file', got: err.code ?? err.message };
  } finally {
    closeSync(fd);
  }
}
