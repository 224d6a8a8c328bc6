// The two INI dialects read here, each as its tool reads it:
// - supervisord (Python's ConfigParser): `key = value` or `key: value`,
//   comments `;`/`#` at a line's start or after whitespace, an indented line
//   continues the value before it.
// - systemd units: `Key=Value`, comments `#`/`;` at a line's start only, a
//   trailing backslash continues the line; a key may repeat (a list).
import { importError } from './model.js';

export interface IniEntry {
  key: string;
  value: string;
  line: number;
}
export interface IniSection {
  name: string;
  line: number;
  entries: IniEntry[];
}

export type Dialect = 'supervisord' | 'systemd';

/** The sections of `text`, in order; a line that is none of the dialect's forms is an error naming its line. */
export function readIni(text: string, file: string, dialect: Dialect): IniSection[] {
  const sections: IniSection[] = [];
  const lines = text.split(/\r?\n/);
  let cur: IniSection | undefined;
  let last: IniEntry | undefined;
  for (let i = 0; i < lines.length; i++) {
    const no = i + 1;
    let raw = lines[i]!;
    if (dialect === 'systemd') {
      if (/^\s*[#;]/.test(raw)) continue;
      while (raw.endsWith('\\') && i + 1 < lines.length) {
        raw = `${raw.slice(0, -1)} `;
        // Comment lines inside a continuation are skipped, as systemd does.
        while (i + 1 < lines.length && /^\s*[#;]/.test(lines[i + 1]!)) i++;
        if (i + 1 < lines.length) raw += lines[++i]!;
      }
    } else {
      if (/^\s*[#;]/.test(raw)) continue;
      raw = raw.replace(/\s[;#].*$/, '');
      if (last && /^\s/.test(raw) && raw.trim() !== '') {
        last.value += `\n${raw.trim()}`;
        continue;
      }
    }
    const t = raw.trim();
    if (t === '') {
      last = undefined;
      continue;
    }
    const sec = /^\[([^\]]+)\]$/.exec(t);
    if (sec) {
      cur = { name: sec[1]!.trim(), line: no, entries: [] };
      sections.push(cur);
      last = undefined;
      continue;
    }
    const kv = dialect === 'systemd' ? /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(t) : /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(t);
    if (!kv)
      throw importError(file, no, `expected ${dialect === 'systemd' ? 'Key=Value' : 'key = value'} or a [section], got ${JSON.stringify(t.slice(0, 80))}`);
    if (!cur) throw importError(file, no, `expected a [section] header before ${JSON.stringify(t.slice(0, 80))}`);
    last = { key: dialect === 'supervisord' ? kv[1]!.toLowerCase() : kv[1]!, value: kv[2]!, line: no };
    cur.entries.push(last);
  }
  return sections;
}

/** The last value of `key` in a section (a later assignment wins), or undefined. */
export function lastOf(s: IniSection, key: string): IniEntry | undefined {
  for (let i = s.entries.length - 1; i >= 0; i--) if (s.entries[i]!.key === key) return s.entries[i];
  return undefined;
}
