// `ham import pm2 FILE [--env NAME]`: each app of an ecosystem file as an
// entity (or N of them for `instances`). PM2's restart rules carried over:
// autorestart → a death condition with a restart action; restart_delay or
// exp_backoff_restart_delay → backoff; max_restarts deaths younger than
// min_uptime → intensity (PM2 then stops it: `errored`, ham `failed`);
// kill_timeout → the stop timeout after SIGINT (PM2's stop signal).
import { accessSync, constants, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import { checkUnique, clampMs, entityNameOf, importError, restartOn, shown, type Imported, type ImportedEntity } from './model.js';
import { loadEcosystem } from './pm2-load.js';
import { shlexSplit } from './shlex.js';

type App = Record<string, unknown>;

// PM2's interpreter by extension (lib/API/interpreter.json).
const BY_EXT: Record<string, string> = {
  '.js': 'node',
  '.cjs': 'node',
  '.mjs': 'node',
  '.sh': 'bash',
  '.py': 'python',
  '.rb': 'ruby',
  '.php': 'php',
  '.pl': 'perl',
  '.coffee': 'coffee',
  '.ls': 'lsc',
  '.ts': 'ts-node',
  '.tsx': 'ts-node',
};
const USED = new Set([
  'name',
  'script',
  'args',
  'interpreter',
  'exec_interpreter',
  'interpreter_args',
  'node_args',
  'cwd',
  'env',
  'autorestart',
  'max_restarts',
  'min_uptime',
  'restart_delay',
  'exp_backoff_restart_delay',
  'kill_timeout',
  'instances',
  'exec_mode',
  'instance_var',
]);
const LOGS = new Set([
  'out_file',
  'error_file',
  'log_file',
  'output',
  'error',
  'log',
  'log_date_format',
  'merge_logs',
  'combine_logs',
  'pid_file',
  'time',
  'log_type',
]);

export async function importPm2(file: string, envName?: string): Promise<Imported> {
  const path = resolve(file);
  const data = await loadEcosystem(path);
  const apps = Array.isArray(data) ? data : data && typeof data === 'object' && 'apps' in data ? (data as { apps: unknown }).apps : undefined;
  const list = Array.isArray(apps) ? apps : data && typeof data === 'object' && 'script' in data ? [data] : undefined;
  if (!list) throw importError(path, undefined, `not a PM2 ecosystem file: expected { apps: [...] }, got ${shown(data).slice(0, 60)}`);
  const notes: string[] = [];
  if (data && typeof data === 'object' && 'deploy' in data) notes.push('not carried over: deploy (ham does not deploy)');
  const entities: ImportedEntity[] = [];
  list.forEach((a, i) => {
    if (!a || typeof a !== 'object' || Array.isArray(a)) throw importError(path, undefined, `apps[${i}]: expected an app object, got ${shown(a)}`);
    entities.push(...app(a as App, i, path, envName));
  });
  checkUnique(entities, path);
  return { source: `${path} (pm2${envName ? `, --env ${envName}` : ''})`, entities, groups: {}, notes };
}

const words = (v: unknown, what: string, file: string): string[] => {
  if (v === undefined || v === null || v === '') return [];
  if (Array.isArray(v)) return v.map(String);
  const r = shlexSplit(String(v));
  if ('error' in r) throw importError(file, undefined, `${what}: ${r.error} in ${JSON.stringify(v)}`);
  return r.words;
};

function app(a: App, i: number, file: string, envName: string | undefined): ImportedEntity[] {
  if (typeof a.script !== 'string' || a.script === '') throw importError(file, undefined, `apps[${i}]: expected a script, got ${shown(a.script)}`);
  const script = a.script;
  const base = typeof a.name === 'string' && a.name ? a.name : basename(script, extname(script));
  const notes: string[] = [];
  const cwd = resolve(dirname(file), typeof a.cwd === 'string' ? a.cwd : '.');
  const fields: Record<string, unknown> = { command: command(a, script, cwd, file, notes), cwd };

  const env: Record<string, string> = {};
  const addEnv = (v: unknown, what: string) => {
    if (v === undefined) return;
    if (!v || typeof v !== 'object') throw importError(file, undefined, `apps[${i}].${what}: expected an object, got ${shown(v)}`);
    for (const [k, x] of Object.entries(v)) {
      if (x === null || x === undefined) continue;
      env[k] = typeof x === 'object' ? JSON.stringify(x) : String(x);
    }
  };
  addEnv(a.env, 'env');
  if (envName !== undefined) {
    if (a[`env_${envName}`] === undefined) notes.push(`--env ${envName}: this app has no env_${envName}`);
    addEnv(a[`env_${envName}`], `env_${envName}`);
  }
  const others = Object.keys(a).filter((k) => k.startsWith('env_') && k !== `env_${envName}`);
  if (others.length) notes.push(`not carried over: ${others.join(', ')} (ham import pm2 --env NAME picks one)`);

  if (a.autorestart !== false) {
    fields.conditions = restartOn('death');
    const minUptime = msOf(a.min_uptime, 1000);
    const maxRestarts = typeof a.max_restarts === 'number' ? a.max_restarts : 16;
    const delay = msOf(a.restart_delay, 0);
    const exp = a.exp_backoff_restart_delay;
    const backoff =
      typeof exp === 'number' && exp > 0
        ? { initialMs: clampMs(exp), factor: 1.5, maxMs: Math.max(clampMs(exp), 15_000), resetAfterMs: 30_000 }
        : { initialMs: clampMs(delay), factor: 1, maxMs: clampMs(delay), resetAfterMs: clampMs(minUptime) };
    const restart: Record<string, unknown> = { backoff };
    if (maxRestarts > 0) {
      restart.intensity = { max: Math.trunc(maxRestarts), withinMs: Math.max(1, clampMs(maxRestarts * (minUptime + Math.max(delay, backoff.initialMs)))) };
      const given = a.max_restarts !== undefined || a.min_uptime !== undefined ? '' : " (PM2's defaults)";
      notes.push(
        `max_restarts=${maxRestarts} deaths younger than min_uptime=${minUptime} ms${given}: an intensity of ${Math.trunc(maxRestarts)} restarts within their sum`,
      );
    }
    fields.restart = restart;
  }
  fields.stop = { signal: 'SIGINT', timeoutMs: Math.min(3_600_000, msOf(a.kill_timeout, 1600)) };

  const logs = Object.keys(a).filter((k) => LOGS.has(k));
  if (logs.length) notes.push(`not carried over: ${logs.map((k) => `${k}=${shown(a[k])}`).join(', ')} (ham keeps the output itself: ham logs NAME)`);
  if (a.wait_ready)
    notes.push(`not carried over: wait_ready (process.send('ready') over PM2's IPC): a readiness probe (tcp, http or command) does that in ham`);
  for (const [k, v] of Object.entries(a)) {
    if (USED.has(k) || LOGS.has(k) || k.startsWith('env_') || k === 'wait_ready') continue;
    const why =
      k === 'uid' || k === 'gid' || k === 'user' ? ' (ham has no user yet)' : k === 'watch' || k === 'ignore_watch' ? ' (ham does not watch files)' : '';
    notes.push(`not carried over: ${k}=${shown(v)}${why}`);
  }
  if (a.exec_mode !== undefined && a.exec_mode !== 'fork' && a.exec_mode !== 'fork_mode')
    notes.push(`exec_mode=${shown(a.exec_mode)}: ham runs each instance as its own process (no shared port)`);

  const n = instances(a.instances, notes);
  if (n <= 1) return [{ name: entityNameOf(base), fields: Object.keys(env).length ? { ...fields, env } : fields, notes }];
  const instanceVar = typeof a.instance_var === 'string' ? a.instance_var : 'NODE_APP_INSTANCE';
  return Array.from({ length: n }, (_, k) => ({
    name: entityNameOf(`${base}-${k}`),
    fields: { ...fields, env: { ...env, [instanceVar]: String(k) } },
    notes:
      k === 0
        ? [`instances=${shown(a.instances)}: ${n} entities, ${base}-0 to ${base}-${n - 1}, each with ${instanceVar}`, ...notes]
        : [`instance ${k} of ${base} (see ${base}-0)`],
  }));
}

function command(a: App, script: string, cwd: string, file: string, notes: string[]): string[] {
  const args = words(a.args, 'args', file);
  let interp = (a.interpreter ?? a.exec_interpreter) as string | undefined;
  const scriptPath = isAbsolute(script) ? script : resolve(cwd, script);
  if (interp === undefined) {
    interp = BY_EXT[extname(script)];
    if (interp === undefined) {
      // PM2 runs an executable (or a program on PATH, e.g. `npm`) directly, anything else with node.
      let executable = !script.includes('/') && !/\.[a-z]+$/i.test(script);
      try {
        accessSync(scriptPath, constants.X_OK);
        executable = true;
      } catch {
        /* not an executable file here */
      }
      interp = executable ? 'none' : 'node';
    }
  }
  const interpArgs = words(a.interpreter_args ?? a.node_args, 'interpreter_args', file);
  if (interp === 'none') {
    if (interpArgs.length) notes.push(`not carried over: interpreter_args=${shown(interpArgs.join(' '))} (interpreter none)`);
    // A bare name is a program on PATH (npm) unless the folder holds it, as PM2 resolves it.
    return [script.includes('/') || existsSync(scriptPath) ? scriptPath : script, ...args];
  }
  return [interp, ...interpArgs, scriptPath, ...args];
}

function instances(v: unknown, notes: string[]): number {
  if (v === undefined || v === null) return 1;
  const n = v === 'max' ? 0 : Number(v);
  if (!Number.isInteger(n)) {
    notes.push(`not carried over: instances=${shown(v)} (expected a number or max)`);
    return 1;
  }
  if (n > 0) return Math.min(n, 1024);
  const cores = cpus().length;
  const k = Math.max(1, cores + n); // 0: every core, -1: all but one
  notes.push(`instances=${shown(v)}: ${k} on this machine (${cores} CPUs)`);
  return k;
}

/** A PM2 duration: a number of ms, or "2s", "1m", "500ms"... */
function msOf(v: unknown, dflt: number): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim()) : null;
  if (!m) return dflt;
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 'ms']!;
}
