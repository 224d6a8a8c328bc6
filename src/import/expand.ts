// supervisord's `%(name)s` expansions (Python %-formatting over a dict):
// resolved from what is known; an unknown name is left as written and said.

export interface Expanded {
  text: string;
  /** The names that could not be resolved. */
  unknown: string[];
}

const SPEC = /%\(([^)]*)\)([-#0 +]*)(\d*)(?:\.(\d+))?([sdirf])|%%/g;

export function expandPercent(text: string, vars: Record<string, string | number | undefined>): Expanded {
  const unknown: string[] = [];
  const out = text.replace(SPEC, (whole, name: string | undefined, flags: string, width: string, _prec: string, type: string) => {
    if (name === undefined) return '%';
    const v = vars[name];
    if (v === undefined) {
      unknown.push(name);
      return whole;
    }
    let s = type === 's' || typeof v === 'string' ? String(v) : String(Math.trunc(v));
    const w = Number(width || 0);
    if (s.length < w) s = flags.includes('-') ? s.padEnd(w) : flags.includes('0') && type !== 's' ? s.padStart(w, '0') : s.padStart(w);
    return s;
  });
  return { text: out, unknown };
}

/** supervisord's `environment=KEY="val",KEY2=val2`: pairs split on commas outside quotes. */
export function keyValuePairs(text: string): { pairs: [string, string][] } | { error: string } {
  const pairs: [string, string][] = [];
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    if (eq < 0) return { error: `expected KEY=value, got ${JSON.stringify(s.slice(i))}` };
    const k = s.slice(i, eq).trim();
    let v = '';
    let j = eq + 1;
    while (j < s.length && /\s/.test(s[j]!)) j++;
    for (; j < s.length && s[j] !== ','; j++) {
      const q = s[j]!;
      if (q === '"' || q === "'") {
        const end = s.indexOf(q, j + 1);
        if (end < 0) return { error: `no closing quotation in ${JSON.stringify(s.slice(eq + 1))}` };
        v += s.slice(j + 1, end);
        j = end;
      } else v += q;
    }
    if (!k) return { error: `expected a name before = in ${JSON.stringify(s.slice(i, j))}` };
    pairs.push([k, v.trim() === v ? v : v.replace(/\s+$/, '')]);
    i = j + 1;
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
  }
  return { pairs };
}
