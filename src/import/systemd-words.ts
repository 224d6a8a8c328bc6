// systemd's command-line and list syntax (systemd.service(5), "Command
// lines"; systemd.syntax(7)): words split on whitespace, "..." and '...'
// quoting, C-style backslash escapes, `$VAR` (a whole word: split at
// whitespace) and `${VAR}` (inside a word: as is), and unit specifiers.

/** The words of `text` with quotes and escapes undone; a `$` is marked so substitution can tell it from an escaped one. */
export function systemdWords(text: string): { words: { text: string; quoted: boolean }[] } | { error: string } {
  const words: { text: string; quoted: boolean }[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let cur = '';
    let quoted = false;
    while (i < text.length && !/\s/.test(text[i]!)) {
      const c = text[i]!;
      if (c === '"' || c === "'") {
        quoted = true;
        let j = i + 1;
        for (; j < text.length && text[j] !== c; j++) {
          if (text[j] === '\\') {
            const e = unescape(text, j);
            if ('error' in e) return e;
            cur += e.text;
            j = e.end;
          } else cur += text[j];
        }
        if (j >= text.length) return { error: `no closing ${c}` };
        i = j + 1;
      } else if (c === '\\') {
        const e = unescape(text, i);
        if ('error' in e) return e;
        cur += e.text;
        i = e.end + 1;
      } else {
        cur += c;
        i++;
      }
    }
    words.push({ text: cur, quoted });
  }
  return { words };
}

const SIMPLE: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'", $: '\0$' };

function unescape(text: string, at: number): { text: string; end: number } | { error: string } {
  const c = text[at + 1];
  if (c === undefined) return { error: 'a backslash at the end' };
  if (SIMPLE[c] !== undefined) return { text: SIMPLE[c]!, end: at + 1 };
  const hex = /^x([0-9a-fA-F]{2})/.exec(text.slice(at + 1));
  if (hex) return { text: String.fromCharCode(parseInt(hex[1]!, 16)), end: at + 3 };
  const oct = /^([0-7]{3})/.exec(text.slice(at + 1));
  if (oct) return { text: String.fromCharCode(parseInt(oct[1]!, 8)), end: at + 3 };
  return { error: `an unknown escape \\${c}` };
}

/** `$VAR` words split into several, `${VAR}` substituted in place, `$$` a dollar; names not set are empty (systemd's rule). */
export function substitute(words: { text: string; quoted: boolean }[], env: Record<string, string>, unset: Set<string>): string[] {
  const out: string[] = [];
  for (const w of words) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(w.text);
    if (whole && !w.quoted) {
      const v = env[whole[1]!];
      if (v === undefined) unset.add(whole[1]!);
      out.push(...(v ?? '').split(/\s+/).filter(Boolean));
      continue;
    }
    out.push(
      w.text
        .replace(/\$\$/g, '\0$')
        .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, n: string) => {
          if (env[n] === undefined) unset.add(n);
          return env[n] ?? '';
        })
        .replace(/\0\$/g, '$'),
    );
  }
  return out;
}

/** The specifiers of a unit that are known without a running systemd; others are left and named. */
export function specifiers(text: string, unit: string, unknown: Set<string>): string {
  const m = /^(.*?)(?:@(.*))?\.service$/.exec(unit);
  const prefix = m?.[1] ?? unit;
  const instance = m?.[2] ?? '';
  const known: Record<string, string> = { n: unit, N: unit.replace(/\.service$/, ''), p: prefix, P: prefix, i: instance, I: instance, '%': '%' };
  return text.replace(/%(.)/g, (whole, c: string) => {
    if (known[c] !== undefined) return known[c]!;
    unknown.add(`%${c}`);
    return whole;
  });
}

/** A systemd time span ("90", "1min 30s", "500ms", "infinity") in ms; undefined when not one. */
export function timeSpanMs(text: string): number | undefined {
  const t = text.trim();
  if (t === 'infinity') return Infinity;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  const UNITS: Record<string, number> = {
    us: 0.001,
    usec: 0.001,
    ms: 1,
    msec: 1,
    s: 1000,
    sec: 1000,
    second: 1000,
    seconds: 1000,
    m: 60_000,
    min: 60_000,
    minute: 60_000,
    minutes: 60_000,
    h: 3_600_000,
    hr: 3_600_000,
    hour: 3_600_000,
    hours: 3_600_000,
    d: 86_400_000,
    day: 86_400_000,
    days: 86_400_000,
    w: 604_800_000,
    week: 604_800_000,
    weeks: 604_800_000,
  };
  let total = 0;
  const re = /\s*(\d+(?:\.\d+)?)\s*([a-z]+)/gy;
  let end = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    const u = UNITS[m[2]!];
    if (u === undefined) return undefined;
    total += Number(m[1]) * u;
    end = re.lastIndex;
  }
  return end === t.length && end > 0 ? total : undefined;
}
