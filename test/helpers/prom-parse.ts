// A strict reader of the Prometheus text exposition format (0.0.4), for tests:
// it reads the samples back (values, labels) and throws on a malformed page.
// The served page is also checked by promtool itself (test/http/http.test.ts).

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: number): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Labels from `{...}` at `text[i]`; returns them and the index after `}`. */
function parseLabels(text: string, i: number, line: number): [Record<string, string>, number] {
  const out: Record<string, string> = {};
  i++; // {
  for (;;) {
    if (text[i] === '}') return [out, i + 1];
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i));
    if (!m) throw new Error(`line ${line}: bad label name at ${JSON.stringify(text.slice(i, i + 20))}`);
    const name = m[0];
    if (name.startsWith('__')) throw new Error(`line ${line}: reserved label name ${name}`);
    if (name in out) throw new Error(`line ${line}: label ${name} twice`);
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new Error(`line ${line}: expected =" after ${name}`);
    i += 2;
    let v = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error(`line ${line}: unterminated label value`);
      if (c === '"') break;
      if (c === '\n') throw new Error(`line ${line}: raw line feed in a label value`);
      if (c === '\\') {
        const n = text[i + 1];
        if (n === '\\') v += '\\';
        else if (n === '"') v += '"';
        else if (n === 'n') v += '\n';
        else throw new Error(`line ${line}: bad escape \\${n} in a label value`);
        i += 2;
        continue;
      }
      v += c;
      i++;
    }
    out[name] = v;
    i++; // closing quote
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`line ${line}: expected , or } after a label`);
  }
}

function familyOf(name: string, families: Map<string, Family>): Family | undefined {
  if (families.has(name)) return families.get(name);
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue;
    const f = families.get(name.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the page must end with a line feed');
  const families = new Map<string, Family>();
  const done = new Set<string>(); // families whose samples ended (another family's began)
  const series = new Set<string>();
  let current: Family | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((l, idx) => {
    const line = idx + 1;
    if (l === '') return;
    if (l.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(l);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      let f = families.get(name);
      if (f && done.has(name)) throw new Error(`line ${line}: ${kind} for ${name} after its samples ended`);
      if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type ${rest}`);
        if (f.samples.length) throw new Error(`line ${line}: TYPE of ${name} after its samples`);
        f.type = rest;
      } else {
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`line ${line}: bad escape in HELP`);
        f.help = rest;
      }
      if (current && current !== f) done.add(current.name);
      current = f;
      return;
    }
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l);
    if (!m) throw new Error(`line ${line}: bad sample ${JSON.stringify(l)}`);
    const name = m[0];
    let i = name.length;
    let labels: Record<string, string> = {};
    if (l[i] === '{') [labels, i] = parseLabels(l, i, line);
    const parts = l.slice(i).trim().split(/\s+/);
    if (l[i] !== ' ' || parts.length < 1 || parts.length > 2) throw new Error(`line ${line}: expected ' VALUE [TIMESTAMP]' in ${JSON.stringify(l)}`);
    const value = parseValue(parts[0]!, line);
    const f = familyOf(name, families) ?? { name, type: 'untyped', help: '', samples: [] };
    if (!families.has(f.name)) families.set(f.name, f);
    if (done.has(f.name)) throw new Error(`line ${line}: samples of ${f.name} are not together`);
    if (current && current !== f) done.add(current.name);
    current = f;
    for (const k of Object.keys(labels)) if (!LABEL.test(k)) throw new Error(`line ${line}: bad label ${k}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${line}: the series ${key} twice`);
    series.add(key);
    if (f.type === 'counter' && !(value >= 0)) throw new Error(`line ${line}: counter ${name} is ${value}`);
    if (f.type === 'histogram' && name === `${f.name}_bucket` && labels.le === undefined) throw new Error(`line ${line}: a bucket without le`);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, ss] of groups) {
    const buckets = ss.filter((s) => s.name === `${f.name}_bucket`);
    const count = ss.find((s) => s.name === `${f.name}_count`);
    const inf = buckets.find((s) => s.labels.le === '+Inf');
    if (!inf || !count || !ss.some((s) => s.name === `${f.name}_sum`)) throw new Error(`${f.name}${key}: needs a +Inf bucket, _sum and _count`);
    if (inf.value !== count.value) throw new Error(`${f.name}${key}: +Inf bucket ${inf.value} != _count ${count.value}`);
    const sorted = [...buckets].sort((a, b) => parseValue(a.labels.le!, 0) - parseValue(b.labels.le!, 0));
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]!.value < sorted[i - 1]!.value) throw new Error(`${f.name}${key}: buckets not cumulative at le=${sorted[i]!.labels.le}`);
  }
}

/** The value of one series (labels matched exactly), or undefined. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values())
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  return undefined;
}
