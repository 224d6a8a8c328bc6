// `ham import supervisord FILE`: its [program:x] sections (and the files its
// [include] names) as ham entities, [group:g] as groups. How supervisord
// restarts is carried over as a restart policy: a process that ran
// `startsecs` is restarted at once; one that dies younger backs off and, past
// `startretries` such deaths, ends FATAL (ham: intensity exceeded, `failed`).
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { expandPercent, keyValuePairs } from './expand.js';
import { lastOf, readIni, type IniSection } from './ini.js';
import { checkUnique, clampMs, entityNameOf, importError, restartOn, shown, type Imported, type ImportedEntity } from './model.js';
import { readInput } from './read.js';
import { shlexSplit } from './shlex.js';
import { includedFiles } from './supervisord-include.js';

const KNOWN = /^(supervisord|supervisorctl|unix_http_server|inet_http_server|include|program:.+|group:.+|eventlistener:.+|fcgi-program:.+|rpcinterface:.+)$/;
const HANDLED = new Set([
  'command',
  'process_name',
  'numprocs',
  'numprocs_start',
  'directory',
  'environment',
  'autorestart',
  'startsecs',
  'startretries',
  'stopsignal',
  'stopwaitsecs',
  'priority',
  'exitcodes',
]);
const LOGS = /^(redirect_stderr|std(out|err)_(logfile|logfile_maxbytes|logfile_backups|capture_maxbytes|events_enabled|syslog))$/;

interface Sourced extends IniSection {
  file: string;
}

export function importSupervisord(file: string): Imported {
  const path = resolve(file);
  const sections: Sourced[] = readIni(readInput(path), path, 'supervisord').map((s) => ({ ...s, file: path }));
  if (!sections.some((s) => KNOWN.test(s.name)))
    throw importError(path, sections[0]?.line, 'not a supervisord configuration: no [program:NAME], [group:NAME] or [supervisord] section');
  const notes: string[] = [];
  const include = sections.find((s) => s.name === 'include');
  if (include) {
    const files = lastOf(include, 'files');
    for (const f of files ? includedFiles(files.value, dirname(path)) : [])
      sections.push(...readIni(readInput(f), f, 'supervisord').map((s) => ({ ...s, file: f })));
  }
  const groupOf = new Map<string, string>();
  const groups: Imported['groups'] = {};
  for (const s of sections.filter((x) => x.name.startsWith('group:'))) {
    const g = entityNameOf(s.name.slice(6).trim());
    groups[g] = { strategy: 'one-for-one' };
    for (const p of (lastOf(s, 'programs')?.value ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean))
      groupOf.set(p, g);
    for (const e of s.entries.filter((x) => x.key !== 'programs')) notes.push(`[group:${g}] not carried over: ${e.key}=${shown(e.value)}`);
  }
  const programs: { priority: number; entities: ImportedEntity[] }[] = [];
  for (const s of sections) {
    if (s.name.startsWith('program:')) programs.push(program(s, groupOf.get(s.name.slice(8).trim())));
    else if (!/^(supervisord|supervisorctl|unix_http_server|inet_http_server|include|group:.+|rpcinterface:.+)$/.test(s.name))
      notes.push(`[${s.name}] (${s.file}:${s.line}) not carried over: ham imports [program:x] and [group:x] sections`);
  }
  // supervisord starts lower priorities first; ham starts groups in the file's order.
  programs.sort((a, b) => a.priority - b.priority);
  const entities = programs.flatMap((p) => p.entities);
  checkUnique(entities, path);
  for (const g of Object.keys(groups)) if (!entities.some((e) => e.fields.group === g)) delete groups[g];
  if (!entities.length) notes.push('no [program:x] section: nothing to carry over');
  return { source: `${path} (supervisord)`, entities, groups, notes };
}

function program(s: Sourced, group: string | undefined): { priority: number; entities: ImportedEntity[] } {
  const programName = s.name.slice(8).trim();
  const at = (key: string) => lastOf(s, key);
  const int = (key: string, dflt: number): number => {
    const e = at(key);
    if (!e) return dflt;
    if (!/^\d+$/.test(e.value.trim())) throw importError(s.file, e.line, `${key}: expected a whole number, got ${JSON.stringify(e.value)}`);
    return Number(e.value.trim());
  };
  const command = at('command');
  if (!command) throw importError(s.file, s.line, `[program:${programName}]: expected a command= line`);
  const numprocs = Math.max(1, int('numprocs', 1));
  const start = int('numprocs_start', 0);
  const base = { program_name: programName, group_name: group ?? programName, host_node_name: hostname(), here: dirname(s.file), numprocs };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) (env as Record<string, string>)[`ENV_${k}`] = v;
  const entities: ImportedEntity[] = [];
  const nameSpec = at('process_name')?.value ?? '%(program_name)s';
  if (numprocs > 1 && !/%\(process_num\)/.test(nameSpec))
    throw importError(
      s.file,
      at('numprocs')!.line,
      `[program:${programName}]: numprocs=${numprocs} needs %(process_num)s in process_name (supervisord refuses it too)`,
    );
  for (let n = start; n < start + numprocs; n++) {
    const notes: string[] = [];
    const vars = { ...env, ...base, process_num: n };
    const expand = (key: string, text: string): string => {
      const r = expandPercent(text, vars);
      for (const u of r.unknown) notes.push(`${key}: %(${u})s is not known here: left as written`);
      if (/%\(ENV_/.test(text)) notes.push(`${key}: %(ENV_...)s resolved from the environment of this import`);
      return r.text;
    };
    const name = entityNameOf(expand('process_name', nameSpec));
    const split = shlexSplit(expand('command', command.value));
    if ('error' in split) throw importError(s.file, command.line, `command: ${split.error} in ${JSON.stringify(command.value)}`);
    if (!split.words.length) throw importError(s.file, command.line, 'command: expected a program, got nothing');
    const fields: Record<string, unknown> = { command: split.words };
    const dir = at('directory');
    if (dir) fields.cwd = resolve(dirname(s.file), expand('directory', dir.value));
    const envLine = at('environment');
    if (envLine) {
      const kv = keyValuePairs(expand('environment', envLine.value));
      if ('error' in kv) throw importError(s.file, envLine.line, `environment: ${kv.error}`);
      fields.env = Object.fromEntries(kv.pairs);
    }
    if (group) fields.group = group;
    Object.assign(fields, policy(s, int, notes));
    if (numprocs > 1) notes.push(`numprocs=${numprocs}: one entity per process (process_num ${n})`);
    for (const e of s.entries) {
      if (HANDLED.has(e.key) || LOGS.test(e.key)) continue;
      if (e.key === 'user') notes.push(`not carried over: user=${shown(e.value)} (ham has no user yet)`);
      else if (e.key === 'autostart' && /^false$/i.test(e.value.trim())) notes.push('not carried over: autostart=false (ham starts every entity it is given)');
      else if (e.key !== 'autostart') notes.push(`not carried over: ${e.key}=${shown(e.value)}`);
    }
    const logs = s.entries.filter((e) => LOGS.test(e.key));
    if (logs.length)
      notes.push(`not carried over: ${logs.map((e) => `${e.key}=${shown(e.value)}`).join(', ')} (ham keeps the output itself: ham logs ${name})`);
    entities.push({ name, fields, notes });
  }
  return { priority: int('priority', 999), entities };
}

/** autorestart, startsecs, startretries, stopsignal, stopwaitsecs as ham's conditions, restart and stop. */
function policy(s: Sourced, int: (k: string, d: number) => number, notes: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const ar = lastOf(s, 'autorestart');
  const mode = (ar?.value.trim() || 'unexpected').toLowerCase();
  if (!['true', 'false', 'unexpected'].includes(mode))
    throw importError(s.file, ar!.line, `autorestart: expected true, false or unexpected, got ${JSON.stringify(ar!.value)}`);
  if (mode !== 'false') {
    out.conditions = restartOn('death');
    if (mode === 'unexpected')
      notes.push(
        `autorestart=unexpected${ar ? '' : ' (the default)'}: ham restarts it on every death, expected exit codes (${lastOf(s, 'exitcodes')?.value.trim() ?? '0'}) too`,
      );
    const secs = int('startsecs', 1);
    const retries = int('startretries', 3);
    const backoff =
      secs === 0
        ? { initialMs: 0, factor: 1, maxMs: 0, resetAfterMs: 0 }
        : { initialMs: 0, factor: 2, maxMs: clampMs(retries * 1000), resetAfterMs: clampMs(secs * 1000) };
    out.restart = { backoff };
    if (secs > 0 && retries > 0) {
      (out.restart as Record<string, unknown>).intensity = {
        max: retries,
        withinMs: Math.max(1, clampMs((retries * secs + (retries * (retries + 1)) / 2) * 1000)),
      };
      notes.push(
        `startsecs=${secs}, startretries=${retries}: more than ${retries} restarts within the time that many quick deaths take ends it failed (supervisord: FATAL)`,
      );
    }
  } else if (lastOf(s, 'exitcodes')) notes.push(`not carried over: exitcodes=${lastOf(s, 'exitcodes')!.value.trim()} (autorestart=false)`);
  const sig = lastOf(s, 'stopsignal');
  const wait = lastOf(s, 'stopwaitsecs');
  if (sig || wait) {
    const signal = sig ? `SIG${sig.value.trim().toUpperCase().replace(/^SIG/, '')}` : 'SIGTERM';
    if (!/^SIG(TERM|HUP|INT|QUIT|KILL|USR1|USR2)$/.test(signal))
      throw importError(s.file, sig!.line, `stopsignal: expected TERM, HUP, INT, QUIT, KILL, USR1 or USR2, got ${JSON.stringify(sig!.value)}`);
    out.stop = { signal, timeoutMs: Math.min(3_600_000, int('stopwaitsecs', 10) * 1000) };
  }
  return out;
}
