// supervisord's [include] files=: paths separated by whitespace, relative to
// the including file, with shell wildcards in the last part of each.
import { readdirSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

const glob = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|\\]/g, '\\$&')
      .replace(/\*/g, '[^/]*')
      .replace(/\?/g, '[^/]')}$`,
  );

/** The files `spec` names, sorted as supervisord does; a wildcard that matches nothing names none. */
export function includedFiles(spec: string, here: string): string[] {
  const out: string[] = [];
  for (const p of spec.split(/\s+/).filter(Boolean)) {
    const full = isAbsolute(p) ? p : resolve(here, p);
    if (!/[*?[]/.test(basename(full))) {
      out.push(full);
      continue;
    }
    let names: string[] = [];
    try {
      names = readdirSync(dirname(full));
    } catch {
      /* a folder that does not exist matches nothing, as glob() */
    }
    const re = glob(basename(full));
    out.push(
      ...names
        .filter((n) => re.test(n))
        .sort()
        .map((n) => join(dirname(full), n)),
    );
  }
  return out;
}
