// An Imported as a ham apply file in YAML: every value written as JSON (JSON
// is YAML), one field a line, so the file reads plainly and parses as is; the
// notes become comments above the entity they are about.
import type { Imported } from './model.js';

const comment = (text: string, indent: string): string => `${indent}# ${text.replace(/[\r\n]+/g, ' ')}\n`;
const key = (k: string): string => (/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(k) ? k : JSON.stringify(k));

/** A value on one line, as JSON, with a space after each separator so it reads as YAML flow style. */
function flow(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(flow).join(', ')}]`;
  if (v && typeof v === 'object') {
    const parts = Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${flow(x)}`);
    return parts.length ? `{ ${parts.join(', ')} }` : '{}';
  }
  return JSON.stringify(v);
}

export function toYaml(im: Imported): string {
  let out = `# ham apply file imported from ${im.source}: check it, then \`ham apply -f FILE\`\n`;
  for (const n of im.notes) out += comment(n, '');
  out += 'entities:\n';
  if (!im.entities.length) out += '  {}\n';
  for (const e of im.entities) {
    out += `  ${key(e.name)}:\n`;
    for (const n of e.notes) out += comment(n, '    ');
    const fields = Object.entries(e.fields).filter(([, v]) => v !== undefined);
    if (!fields.length) out += '    {}\n';
    for (const [k, v] of fields) {
      if (k === 'conditions' && v && typeof v === 'object') {
        out += `    conditions:\n`;
        for (const [c, spec] of Object.entries(v)) out += `      ${key(c)}: ${flow(spec)}\n`;
      } else out += `    ${key(k)}: ${flow(v)}\n`;
    }
  }
  const groups = Object.entries(im.groups);
  if (groups.length) {
    out += 'groups:\n';
    for (const [g, spec] of groups) out += `  ${key(g)}: ${flow(spec)}\n`;
  }
  return out;
}
