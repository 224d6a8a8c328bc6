// ham condition | action | enable | disable | apply
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { HamError } from '../model/errors.js';
import { ACTION_KINDS, CONDITION_TYPES, LOG_LEVELS } from '../model/conditions.js';
import { call, envPair, globals, integer, list, open, positiveInt, type Globals } from './call.js';
import { emit, fail } from './output.js';
import type { ApplyWaited } from './apply-wait.js';
import { escapeText, jsonSafe } from './escape.js';
import { resolveHome } from '../model/home-paths.js';
import type { RequestArgs } from '../protocol/requests.js';
import type { Reply } from '../protocol/responses.js';

/** `entity/condition/action/sub-action` → parts. */
function target(spec: string): { entity: string; condition?: string; path?: string[] } {
  const [entity, condition, ...path] = spec.split('/');
  return { entity: entity!, ...(condition ? { condition } : {}), ...(path.length ? { path } : {}) };
}

export function registerModelCommands(program: Command): void {
  const condition = program.command('condition').description('subscribe an entity (or * for every entity) to a condition');
  condition
    .command('add')
    .argument('<entity>', 'an entity name, or * for all')
    .argument('<name>', 'the condition name, unique on the entity')
    .addOption(new Option('--type <type>', 'what to react to').choices([...CONDITION_TYPES]).makeOptionMandatory())
    .option('--rearm', 'keep it after the entity restarts (otherwise it is pruned)')
    .option('--independent', 'run its actions alongside other lists instead of after them')
    .option('--match-type <t>', 'raise: only this type; cluster: only this event (gave-up, relocated...)')
    .option('--match-class <c>', 'raise: only this class')
    .option('--match-severity <n>', 'raise: only this severity', integer('--match-severity'))
    .option('--from <states>', 'state: only from these (comma-separated)', list)
    .option('--not-from <states>', 'state: from anything but these', list)
    .option('--to <states>', 'state: only to these', list)
    .option('--not-to <states>', 'state: to anything but these', list)
    .option('--disabled', 'add it disabled')
    .action(async (entity: string, name: string, o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const match =
        o.matchType || o.matchClass || o.matchSeverity !== undefined
          ? {
              ...(o.matchType ? { type: o.matchType } : {}),
              ...(o.matchClass ? { class: o.matchClass } : {}),
              ...(o.matchSeverity !== undefined ? { severity: o.matchSeverity } : {}),
            }
          : undefined;
      const set = (inn: unknown, notIn: unknown) => (inn ? { in: inn } : notIn ? { notIn } : undefined);
      const body = {
        type: o.type,
        rearm: !!o.rearm,
        independent: !!o.independent,
        enabled: !o.disabled,
        ...(match ? { match } : {}),
        ...(set(o.from, o.notFrom) ? { from: set(o.from, o.notFrom) } : {}),
        ...(set(o.to, o.notTo) ? { to: set(o.to, o.notTo) } : {}),
      };
      const r = await call(g, 'condition-add', { entity, name, condition: body as never });
      emit(g, r, () => `condition ${name} (${String(o.type)}) added to ${entity}`);
    });
  condition
    .command('rm')
    .argument('<entity>')
    .argument('<name>')
    .action(async (entity: string, name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'condition-rm', { entity, name });
      emit(g, r, () => `condition ${name} removed from ${entity}`);
    });

  const action = program.command('action').description("add or remove an action in a condition's list");
  action
    .command('add')
    .argument('<entity>')
    .argument('<condition>')
    .argument('<name>', 'the action name, unique in its list')
    .argument('[argv...]', 'execute: the command (after --)')
    .addOption(new Option('--kind <kind>', 'what it does').choices([...ACTION_KINDS]).makeOptionMandatory())
    .option('--timeout-ms <ms>', 'execute/waitfor: deadline', positiveInt('--timeout-ms'))
    .option('--grace-ms <ms>', 'execute: after the deadline, SIGTERM, then SIGKILL this much later (default 2000)', positiveInt('--grace-ms'))
    .option('--signal <sig>', 'signal: which (default SIGTERM)')
    .option('--pid <pid>', 'signal: to this pid instead of the entity', positiveInt('--pid'))
    .option('--path <path>', 'waitfor: wait for this path (relative to the entity cwd)')
    .option('--delay-ms <ms>', 'waitfor: wait this long', positiveInt('--delay-ms'))
    .option('--message <text>', 'log/notify: the text')
    .addOption(new Option('--level <level>', 'log: level').choices([...LOG_LEVELS]))
    .option('--env <NAME=VALUE>', 'execute: environment (repeatable)', envPair, {})
    .option('--cwd <dir>', 'execute: working directory')
    .option('--now', 'also run it once now')
    .option('--break-on-fail', 'if it fails, skip the rest of the list')
    .option('--keep-on-fail', 'if it fails, keep it (otherwise it is removed)')
    .option('--on-fail-of <action>', 'add it to the fail-actions of this action (a/b for deeper)')
    .action(async (entity: string, cond: string, name: string, argv: string[], o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const env = o.env as Record<string, string>;
      const a: Record<string, unknown> = { name, kind: o.kind, now: !!o.now, breakOnFail: !!o.breakOnFail, keepOnFail: !!o.keepOnFail };
      if (argv.length) a.argv = argv;
      if (Object.keys(env).length) a.env = env;
      for (const k of ['timeoutMs', 'graceMs', 'signal', 'pid', 'path', 'delayMs', 'message', 'level'] as const) if (o[k] !== undefined) a[k] = o[k];
      if (o.cwd !== undefined) a.cwd = resolve(String(o.cwd));
      const onFailOf = typeof o.onFailOf === 'string' ? o.onFailOf.split('/') : undefined;
      const r = await call(g, 'action-add', { entity, condition: cond, action: a as never, ...(onFailOf ? { onFailOf } : {}) });
      emit(g, r, () => `action ${name} (${String(o.kind)}) added to ${entity}/${cond}${onFailOf ? ` as a fail-action of ${onFailOf.join('/')}` : ''}`);
    });
  action
    .command('rm')
    .argument('<entity>')
    .argument('<condition>')
    .argument('<action>', 'its name (a/b for a fail-action)')
    .action(async (entity: string, cond: string, name: string, _o: unknown, cmd: Command) => {
      const g = globals(cmd);
      const r = await call(g, 'action-rm', { entity, condition: cond, path: name.split('/') });
      emit(g, r, () => `action ${name} removed from ${entity}/${cond}`);
    });

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    program
      .command(verb)
      .description(`${verb} an entity, a condition or an action (and what is under it): ENTITY[/CONDITION[/ACTION...]]`)
      .argument('<target>')
      .action(async (spec: string, _o: unknown, cmd: Command) => {
        const g = globals(cmd);
        const r = await call(g, 'enable', { ...target(spec), enabled });
        emit(g, r, () => `${spec} ${enabled ? 'enabled' : 'disabled'}`);
      });
  }

  program
    .command('apply')
    .description('declare entities, conditions and actions from a YAML or JSON file (idempotent, all-or-nothing)')
    .requiredOption('-f, --file <file>', 'the configuration file')
    .option('--dry-run', 'check it and show what would change, change nothing')
    .option('--wait', 'then wait until what it started is ready (runs, without readiness); fail naming each that is not')
    .option('--timeout-ms <ms>', `--wait: at most this long (default ${WAIT_DEFAULT_MS})`, positiveInt('--timeout-ms'))
    .action(async (o: { file: string; dryRun?: boolean; wait?: boolean; timeoutMs?: number }, cmd: Command) => {
      const g = globals(cmd);
      if (o.wait && o.dryRun) fail(g, new HamError({ code: 'bad-request', message: '--wait: expected an apply that starts something, got --dry-run' }));
      if (o.timeoutMs !== undefined && !o.wait) fail(g, new HamError({ code: 'bad-request', message: '--timeout-ms: expected with --wait, got it alone' }));
      const file = resolve(o.file);
      let config: unknown;
      let yaml: typeof import('yaml') | undefined;
      const text = readConfig(g, file);
      try {
        // JSON by JSON.parse: the YAML parser dies (a V8 fatal error, not an exception) on JSON nested ~1,000 deep.
        config = /^\s*[[{]/.test(text) ? parseJson(text) : NOT_JSON;
        if (config === NOT_JSON) {
          // Loaded only for a YAML file (or broken JSON: YAML's error says where): it is the CLI's heaviest module.
          yaml = await import('yaml');
          config = yaml.parse(text, { prettyErrors: true });
        }
      } catch (e) {
        const where = yaml && e instanceof yaml.YAMLParseError ? ` (line ${e.linePos?.[0]?.line}, column ${e.linePos?.[0]?.col})` : '';
        fail(g, new HamError({ code: 'bad-request', message: `${file}: not valid YAML or JSON${where}: ${(e as Error).message.split('\n')[0]}` }));
      }
      if (typeof config !== 'object' || config === null || Array.isArray(config))
        fail(g, new HamError({ code: 'bad-request', message: `${file}: expected a mapping with an entities key at the top` }));
      const args = { config: { ...(config as object), baseDir: dirname(file) }, dryRun: !!o.dryRun };
      if (o.wait) return waitedApply(g, file, args, o.timeoutMs ?? WAIT_DEFAULT_MS);
      const r = await call(g, 'apply', args);
      emit(g, r, () => {
        return `${r.dryRun ? 'would apply' : 'applied'} ${file}\n${changeLines(r)}`;
      });
    });
}

const NOT_JSON = Symbol('not JSON');
const WAIT_DEFAULT_MS = 60_000;

function changeLines(r: Reply<'apply'>): string {
  return r.changes.map((c) => `${c.entity}: ${c.change}${c.details.length ? ` (${c.details.join('; ')})` : ''}`).join('\n') || 'no entities declared';
}

/** `apply --wait`: the apply and each entity it started, ready or not; any not ready is the one error (exit 1). */
async function waitedApply(g: Globals, file: string, args: Partial<RequestArgs<'apply'>>, timeoutMs: number): Promise<void> {
  const c = await open(g);
  let w: ApplyWaited;
  try {
    const { applyAndWait } = await import('./apply-wait.js'); // only `ham apply --wait` waits for what it started
    w = await applyAndWait(resolveHome(g.home), c, args, timeoutMs);
  } catch (e) {
    fail(g, e);
  }
  const { reply, results, error } = w;
  if (g.json) {
    // The error's one shape, with the apply's changes and each entity's result beside it.
    process.stdout.write(`${jsonSafe(JSON.stringify({ ...(error ? { error: error.toShape() } : {}), ...reply, wait: results }))}\n`);
    if (error) process.exit(1);
    return;
  }
  const lines = results.map(
    (r) => `  ${r.entity}: ${r.result}${r.result === 'ready' ? `${r.pid ? ` (pid ${r.pid}${r.readyText ? `, ${r.readyText}` : ''})` : ''}` : ` (${r.reason})`}`,
  );
  process.stdout.write(
    `${escapeText(`applied ${file}\n${changeLines(reply)}${results.length ? `\nwaited:\n${lines.join('\n')}` : '\nnothing started to wait for'}`)}\n`,
  );
  if (error) fail(g, error);
}

/** The file's text, or the error saying why it cannot be read (it is not there, not readable, a folder): not a parse error. */
function readConfig(g: Parameters<typeof fail>[0], file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'not readable by this user (permission denied)'
          : code === 'EISDIR'
            ? 'a folder, not a file'
            : (e as Error).message;
    fail(g, new HamError({ code: 'bad-request', message: `-f ${file}: expected a YAML or JSON file to read, got ${why}` }));
  }
}

/** The file as JSON, or NOT_JSON (YAML flow style, or broken JSON) for the YAML parser to read. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}
