// `ham import systemd UNIT.service...`: each service unit as one entity.
// ExecStart= with systemd's quoting, prefixes and $VAR substitution from
// Environment=; Restart= as a death condition, RestartSec= and
// StartLimitBurst=/StartLimitIntervalSec= as the restart policy; Requires=,
// BindsTo= and After= between the units given as `requires`.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { basename, resolve } from 'node:path';
import { lastOf, readIni, type IniEntry, type IniSection } from './ini.js';
import { checkUnique, clampMs, entityNameOf, importError, restartOn, shown, type Imported, type ImportedEntity } from './model.js';
import { readInput } from './read.js';
import { specifiers, substitute, systemdWords, timeSpanMs } from './systemd-words.js';

const QUIET = new Set(['Description', 'Documentation']);
const USED_SERVICE = new Set([
  'Type',
  'ExecStart',
  'Environment',
  'WorkingDirectory',
  'Restart',
  'RestartSec',
  'KillSignal',
  'TimeoutStopSec',
  'TimeoutSec',
  'StartLimitBurst',
  'StartLimitIntervalSec',
  'StartLimitInterval',
]);
const USED_UNIT = new Set(['Requires', 'BindsTo', 'After', 'StartLimitBurst', 'StartLimitIntervalSec', 'StartLimitInterval', ...QUIET]);
const WHY: Record<string, string> = {
  User: 'ham has no user yet',
  Group: 'ham has no group yet',
  EnvironmentFile: 'ham has no envFile yet',
  ExecReload: 'ham has no reload yet',
};

interface Unit {
  file: string;
  unit: string;
  name: string;
  sections: IniSection[];
}

export function importSystemd(files: string[]): Imported {
  const units: Unit[] = files.map((f) => {
    const asked = resolve(f);
    // An instance of a template (getty@tty1.service) is read from the template's file, as systemd does.
    const tmpl = /^(.+@)([^/]+)(\.service)$/.exec(asked);
    const file = tmpl && !existsSync(asked) && existsSync(`${tmpl[1]}${tmpl[3]}`) ? `${tmpl[1]}${tmpl[3]}` : asked;
    const sections = readIni(readInput(file), file, 'systemd');
    if (!sections.some((s) => s.name === 'Service'))
      throw importError(
        file,
        sections[0]?.line,
        `not a service unit: expected a [Service] section, got ${sections.length ? sections.map((s) => `[${s.name}]`).join(' ') : 'none'}`,
      );
    const unit = basename(asked).endsWith('.service') ? basename(asked) : `${basename(asked)}.service`;
    return { file, unit, name: entityNameOf(unit.replace(/\.service$/, '')), sections };
  });
  checkUnique(
    units.map((u) => ({ name: u.name, fields: {}, notes: [] })),
    units.map((u) => u.file).join(', '),
  );
  const byUnit = new Map(units.map((u) => [u.unit, u.name]));
  const entities = units.map((u) => unitEntity(u, byUnit));
  return { source: units.map((u) => u.file).join(', ') + ' (systemd)', entities, groups: {}, notes: [] };
}

/** Every entry of `key` in the section, a later empty assignment resetting the list (systemd's rule). */
function listOf(s: IniSection | undefined, key: string): IniEntry[] {
  let out: IniEntry[] = [];
  for (const e of s?.entries ?? []) if (e.key === key) out = e.value.trim() === '' ? [] : [...out, e];
  return out;
}

function unitEntity(u: Unit, byUnit: Map<string, string>): ImportedEntity {
  const svc = u.sections.find((s) => s.name === 'Service')!;
  const unitSec = u.sections.find((s) => s.name === 'Unit');
  const notes: string[] = [];
  const fields: Record<string, unknown> = {};
  const unknownSpec = new Set<string>();
  const spec = (t: string) => specifiers(t, u.unit, unknownSpec);
  const span = (e: IniEntry): number => {
    const ms = timeSpanMs(e.value);
    if (ms === undefined) throw importError(u.file, e.line, `${e.key}: expected a time span such as 5s or 1min 30s, got ${JSON.stringify(e.value)}`);
    return ms;
  };

  const env: Record<string, string> = {};
  for (const e of listOf(svc, 'Environment')) {
    const w = systemdWords(spec(e.value));
    if ('error' in w) throw importError(u.file, e.line, `Environment: ${w.error} in ${JSON.stringify(e.value)}`);
    for (const { text } of w.words) {
      const eq = text.indexOf('=');
      if (eq <= 0) throw importError(u.file, e.line, `Environment: expected NAME=value, got ${JSON.stringify(text)}`);
      env[text.slice(0, eq)] = text.slice(eq + 1).replace(/\0\$/g, '$');
    }
  }

  const execs = listOf(svc, 'ExecStart');
  if (!execs.length) throw importError(u.file, svc.line, '[Service]: expected an ExecStart= line');
  const first = execs[0]!;
  const prefix = /^[-@:+!]*/.exec(first.value.trim())![0];
  const w = systemdWords(spec(first.value.trim().slice(prefix.length)));
  if ('error' in w) throw importError(u.file, first.line, `ExecStart: ${w.error} in ${JSON.stringify(first.value)}`);
  const unset = new Set<string>();
  let argv = prefix.includes(':') ? w.words.map((x) => x.text.replace(/\0\$/g, '$')) : substitute(w.words, env, unset);
  if (prefix.includes('@')) {
    if (argv.length >= 2) notes.push(`not carried over: ExecStart=@ (argv[0] ${shown(argv[1])}): ham runs the program with its own name as argv[0]`);
    argv = [argv[0]!, ...argv.slice(2)];
  }
  if (!argv.length || argv[0] === '') throw importError(u.file, first.line, 'ExecStart: expected a program, got nothing');
  if (argv.includes(';')) notes.push('ExecStart= holds several commands separated by ";": ham runs them as one argv, check it');
  for (const v of unset) notes.push(`ExecStart: $${v} is not set by Environment= here: replaced by nothing, as systemd does`);
  if (/[+!]/.test(prefix)) notes.push(`not carried over: the ExecStart= prefix ${prefix} (privileges)`);
  for (const e of execs.slice(1)) notes.push(`not carried over: ExecStart=${shown(e.value)} (ham runs one command per entity)`);
  fields.command = argv;
  if (Object.keys(env).length) fields.env = env;

  const wd = lastOf(svc, 'WorkingDirectory');
  if (wd) {
    const dir = spec(wd.value.trim().replace(/^-/, ''));
    if (dir.startsWith('/')) fields.cwd = dir;
    else notes.push(`not carried over: WorkingDirectory=${shown(wd.value)} (ham takes a path)`);
  }

  const type = lastOf(svc, 'Type')?.value.trim() ?? 'simple';
  if (type === 'notify' || type === 'notify-reload') fields.readiness = { notify: true };
  else if (type === 'forking') notes.push('Type=forking: ham supervises the process it starts: run it in the foreground (its no-fork option)');
  else if (type === 'oneshot') notes.push('Type=oneshot: ham supervises a long-running process; this one is expected to exit');
  else if (type === 'dbus') notes.push(`Type=dbus: ready when it takes ${lastOf(svc, 'BusName')?.value.trim() ?? 'its bus name'}: not carried over`);

  const restart = lastOf(svc, 'Restart')?.value.trim() ?? 'no';
  const cond: Record<string, 'death' | 'abnormal-death' | undefined> = {
    always: 'death',
    'on-failure': 'death',
    'on-abnormal': 'abnormal-death',
    'on-abort': 'abnormal-death',
    'on-watchdog': undefined,
    'on-success': undefined,
    no: undefined,
  };
  if (!(restart in cond))
    throw importError(
      u.file,
      lastOf(svc, 'Restart')!.line,
      `Restart: expected no, always, on-success, on-failure, on-abnormal, on-abort or on-watchdog, got ${JSON.stringify(restart)}`,
    );
  const on = cond[restart];
  if (restart === 'on-failure') notes.push('Restart=on-failure: ham restarts it on every death, a clean exit too');
  if (restart === 'on-abnormal') notes.push('Restart=on-abnormal: restarted when killed by a signal; timeouts and watchdog are not told apart');
  if (restart === 'on-success' || restart === 'on-watchdog') notes.push(`not carried over: Restart=${restart}`);
  if (on) {
    fields.conditions = restartOn(on);
    const rs = lastOf(svc, 'RestartSec');
    const delay = clampMs(rs ? span(rs) : 100);
    const policy: Record<string, unknown> = { backoff: { initialMs: delay, factor: 1, maxMs: delay, resetAfterMs: 0 } };
    const burstE = lastOf(unitSec ?? svc, 'StartLimitBurst') ?? lastOf(svc, 'StartLimitBurst');
    const winE = lastOf(unitSec ?? svc, 'StartLimitIntervalSec') ?? lastOf(svc, 'StartLimitIntervalSec') ?? lastOf(svc, 'StartLimitInterval');
    const burst = burstE ? Number(burstE.value.trim()) : 5;
    if (!Number.isInteger(burst) || burst < 0)
      throw importError(u.file, burstE!.line, `StartLimitBurst: expected a whole number, got ${JSON.stringify(burstE!.value)}`);
    const within = winE ? span(winE) : 10_000;
    if (within > 0 && burst > 0) policy.intensity = { max: burst, withinMs: Math.max(1, clampMs(within)) };
    fields.restart = policy;
    for (const k of ['RestartSteps', 'RestartMaxDelaySec'])
      if (lastOf(svc, k)) notes.push(`not carried over: ${k}=${lastOf(svc, k)!.value.trim()} (the delay is RestartSec=, fixed)`);
  }

  const sig = lastOf(svc, 'KillSignal');
  const stopE = lastOf(svc, 'TimeoutStopSec') ?? lastOf(svc, 'TimeoutSec');
  if (sig || stopE) {
    const signal = sig ? `SIG${sig.value.trim().replace(/^SIG/, '')}` : 'SIGTERM';
    if (!Object.prototype.hasOwnProperty.call(constants.signals, signal))
      throw importError(u.file, sig!.line, `KillSignal: expected a signal name such as SIGTERM, got ${JSON.stringify(sig!.value)}`);
    const ms = stopE ? span(stopE) : 90_000;
    fields.stop = { signal, timeoutMs: Math.min(3_600_000, Number.isFinite(ms) ? Math.round(ms) : 3_600_000) };
    if (!Number.isFinite(ms)) notes.push('TimeoutStopSec=infinity: ham waits an hour at most before SIGKILL');
  }

  const req = new Set<string>();
  for (const key of ['Requires', 'BindsTo', 'After'])
    for (const e of listOf(unitSec, key))
      for (const dep of e.value.trim().split(/\s+/)) {
        const n = byUnit.get(dep) ?? byUnit.get(`${dep}.service`);
        if (n && n !== u.name) {
          if (key === 'After' && !req.has(n)) notes.push(`After=${dep}: ham's requires also stops ${u.name} while ${n} is down`);
          req.add(n);
        } else if (key !== 'After') notes.push(`not carried over: ${key}=${dep} (not among the units imported)`);
      }
  if (req.size) fields.requires = [...req];

  for (const s of u.sections) {
    const used = s.name === 'Service' ? USED_SERVICE : s.name === 'Unit' ? USED_UNIT : new Set<string>();
    if (s.name === 'Install') {
      if (s.entries.length)
        notes.push(`not carried over: [Install] ${s.entries.map((e) => `${e.key}=${shown(e.value)}`).join(' ')} (ham starts what it is given)`);
      continue;
    }
    for (const e of s.entries)
      if (!used.has(e.key) && !QUIET.has(e.key)) notes.push(`not carried over: ${e.key}=${shown(e.value)}${WHY[e.key] ? ` (${WHY[e.key]})` : ''}`);
  }
  for (const x of unknownSpec) notes.push(`the specifier ${x} needs a running systemd: left as written`);
  return { name: u.name, fields, notes };
}
