// The `ham` command line. Every command takes --home and --json.
import { Command, Option } from 'commander';
import { resolveHome } from '../model/home-paths.js';
import { resolve as resolvePath } from 'node:path';
import { formatConditions, formatEntity, formatOpenFiles, formatPair, formatStatus } from './format.js';
import { baseEnvRequest, call, collect, globals, open, positiveInt, envPair, type Globals } from './call.js';
import { statusAll } from '../client/pages.js';
import { withUsage } from './usage.js';
import { formatStoreUse } from './limits.js';
import { checkLimitSettings } from '../model/limits.js';
import { DEFAULT_SETTINGS } from '../model/defaults.js';
import { registerDetectorCommands } from './detectors.js';
import { existsSync, statSync } from 'node:fs';
import { HamError } from '../model/errors.js';
import { parseHttpSetting } from '../model/http.js';
import { registerEventCommands } from './events.js';
import { registerLogCommands } from './logs.js';
import { registerModelCommands } from './model.js';
import { registerImportCommands } from './import.js';
import { registerTopCommand } from './top.js';
import { registerClusterCommands } from './cluster.js';
import { emit, fail } from './output.js';
import { control, registerByNameCommands, usage } from './by-name.js';
import { registerStartupCommand } from './startup.js';

const program = new Command('ham')
  .description('a self-healing High Availability Manager: a HAM and its Guardian keep your processes alive')
  .addOption(new Option('--home <dir>', 'HAM home (default: $HAM_HOME, else ~/.local/state/ham)'))
  .option('--json', 'machine-readable output (one JSON object)')
  // A hint, not the whole help: after "unknown command 'stauts' (Did you mean status?)" the suggestion is what matters.
  .showHelpAfterError('(ham --help, or ham COMMAND --help, for usage)');

program
  .command('start')
  .description('start the HAM and its Guardian (returns once both are up); with NAME, start that entity (one `ham stop NAME` stopped)')
  .argument('[name]', 'an entity to start (the pair must be running); without it, the pair')
  .option('--wait', 'with NAME: return once it runs (and is ready, where it has readiness)')
  .option('--hang-ms <ms>', 'a partner silent this long is hung: killed and replaced (default 1000)', positiveInt('--hang-ms'))
  .option('--detectors <dir>', 'the detectors folder (default: HOME/detectors; kept for later starts)')
  .option('--env <NAME=VALUE>', "add to the entities' base environment (repeatable; kept for later starts)", envPair, {})
  .option('--pass-env <NAME>', "copy NAME from this shell into the entities' base environment (repeatable; kept)", collect, [])
  .option('--unset-env <NAME>', "remove NAME from the entities' base environment (repeatable)", collect, [])
  .option('--store-max-bytes <n>', 'the store size limit (default 256 MiB; kept for later starts)', positiveInt('--store-max-bytes'))
  .option('--saved-max-bytes <n>', 'the size limit of one saved state (default 64 KiB; kept for later starts)', positiveInt('--saved-max-bytes'))
  .option(
    '--allow-user <name>',
    "another user (name or uid) who may use the control socket; repeat for more, '' for none (kept for later starts)",
    (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').filter(Boolean)],
  )
  .option('--http <addr:port>', "serve /metrics, /api and the live view there (read-only; loopback unless --token; '' for none; kept)")
  .option('--token <token>', 'a bearer token every HTTP request must carry (needed for a non-loopback --http)')
  .action(
    async (
      name: string | undefined,
      o: {
        wait?: boolean;
        hangMs?: number;
        detectors?: string;
        env: Record<string, string>;
        passEnv: string[];
        unsetEnv: string[];
        storeMaxBytes?: number;
        savedMaxBytes?: number;
        allowUser?: string[];
        http?: string;
        token?: string;
      },
      cmd: Command,
    ) => {
      const g = globals(cmd);
      if (name !== undefined) return startByName(g, name, o);
      if (o.wait) usage(g, '--wait goes with an entity name (ham start NAME --wait); the pair start always waits');
      const home = resolveHome(g.home);
      try {
        const baseEnv = baseEnvRequest(o.env, o.passEnv, o.unsetEnv);
        const bad = checkLimitSettings({
          storeMaxBytes: o.storeMaxBytes ?? DEFAULT_SETTINGS.storeMaxBytes,
          savedMaxBytes: o.savedMaxBytes ?? DEFAULT_SETTINGS.savedMaxBytes,
        });
        if (bad) throw new HamError({ code: 'bad-request', message: `--${bad}` });
        if (o.detectors !== undefined && o.detectors !== '' && existsSync(o.detectors) && !statSync(o.detectors).isDirectory()) {
          throw new HamError({ code: 'bad-request', message: `--detectors: expected a folder, got a file: ${resolvePath(o.detectors)}` });
        }
        const badUser = o.allowUser?.find((u) => !/^([a-z_][a-z0-9_.-]*\$?|\d+)$/i.test(u));
        if (badUser !== undefined)
          throw new HamError({ code: 'bad-request', message: `--allow-user: expected a user name or uid, got ${JSON.stringify(badUser)}` });
        if (o.token !== undefined && !o.http)
          throw new HamError({ code: 'bad-request', message: '--token: goes with --http ADDR:PORT, and no --http was given' });
        if (o.http) parseHttpSetting(o.http, o.token); // refused here, before anything starts
        const { startPair } = await import('./daemon.js'); // loaded only by the commands that start or stop the pair
        const { already, status } = await startPair(home, {
          http: o.http,
          token: o.token,
          baseEnv,
          hangMs: o.hangMs,
          storeMaxBytes: o.storeMaxBytes,
          savedMaxBytes: o.savedMaxBytes,
          allowUsers: o.allowUser,
          detectors: o.detectors === undefined ? undefined : o.detectors === '' ? '' : resolvePath(o.detectors),
        });
        if (already && o.allowUser !== undefined)
          throw new HamError({
            code: 'already-running',
            message: `--allow-user takes effect when the pair starts, and it is already running on ${home}: run \`ham stop\` first`,
          });
        const ignored = already ? (['hangMs', 'detectors', 'storeMaxBytes', 'savedMaxBytes', 'http'] as const).filter((k) => o[k] !== undefined) : [];
        // Said, not silently dropped: these are settings a start writes, and this start did not start anything.
        if (ignored.length)
          process.stderr.write(
            `ham: the pair already runs on ${home}, so ${ignored.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} did not take effect (ham stop, then ham start with them)\n`,
          );
        const out = { already, home, ham: status.ham, guardian: status.guardian };
        emit(g, out, () => `${already ? 'already running' : 'started'} on ${home}: ${formatPair(status)}`);
      } catch (e) {
        fail(g, e);
      }
    },
  );

program
  .command('stop')
  .description('stop the Guardian, then the HAM; entities keep running unless --all. With NAME, stop that entity only (it stays stopped)')
  .argument('[name]', 'an entity to stop: its stop signal, then SIGKILL of its group after its stop timeout; no death, no restart')
  .option('--all', 'also stop every entity (SIGTERM, then SIGKILL of its process group)')
  .option('--wait', 'with NAME: return once it is stopped')
  .action(async (name: string | undefined, o: { all?: boolean; wait?: boolean }, cmd: Command) => {
    const g = globals(cmd);
    if (name !== undefined && o.all) usage(g, 'expected NAME (stop that entity) or --all (stop the pair and every entity), not both');
    if (name !== undefined) return control(g, 'stop', { name }, !!o.wait);
    if (o.wait) usage(g, '--wait goes with an entity name (ham stop NAME --wait); stopping the pair always waits');
    const home = resolveHome(g.home);
    try {
      const { stopPair } = await import('./daemon.js');
      const before = await stopPair(home, !!o.all);
      if (!before && o.all) return await (await import('./stop-offline.js')).stopEntitiesOffline(g, home); // no HAM: the store's entities all the same
      if (!before) return emit(g, { stopped: false, home, reason: 'not running' }, () => `not running on ${home}`); // nothing listens on the socket
      emit(
        g,
        { stopped: true, home, ham: before.ham, guardian: before.guardian, entitiesStopped: !!o.all },
        () => `stopped on ${home}${o.all ? ' (entities stopped too)' : '; entities keep running'}`,
      );
    } catch (e) {
      fail(g, e);
    }
  });

program
  .command('status')
  .description('the pair and its entities (or one entity in detail)')
  .argument('[name]', 'one entity')
  .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const c = await open(g);
    let s: ReturnType<typeof withUsage<Awaited<ReturnType<typeof statusAll>>>>;
    try {
      s = withUsage(await statusAll(c, name)); // in pages: one object all the same; usage from /proc here
    } catch (e) {
      fail(g, e);
    } finally {
      c.close();
    }
    emit(g, s, () => {
      const use = (s.store ? `\n${formatStoreUse(s.store)}` : '') + formatOpenFiles(s.openFiles);
      if (name === undefined)
        return formatStatus(s) + (s.global?.conditions.length ? `\n\nglobal entity *:\n${formatConditions(s.global.conditions)}` : '') + use;
      if (name === '*') return `${formatPair(s)}\n\nglobal entity *:\n${formatConditions(s.global?.conditions ?? [])}${use}`;
      return `${formatPair(s)}\n\n${formatEntity(s.entities[0]!)}${use}`;
    });
  });

program
  .command('attach')
  .description('monitor an entity: spawn a command, adopt a running --pid, or declare a placeholder (neither)')
  .argument('<name>', 'a unique entity name')
  .argument('[command...]', 'the command and its arguments (put them after --); run without a shell')
  .option('--restart', 'restart it whenever it dies (a death condition with a restart action)')
  .option('--pid <pid>', 'adopt this running process (with a command: restart it with that)', positiveInt('--pid'))
  .option('--env <NAME=VALUE>', 'an environment variable (repeatable)', envPair, {})
  .option('--cwd <dir>', 'working directory (default: the current one)')
  .action(async (name: string, argv: string[], o: { restart?: boolean; pid?: number; env: Record<string, string>; cwd?: string }, cmd: Command) => {
    const g = globals(cmd);
    const cwd = resolvePath(o.cwd ?? '.');
    const e = await call(g, 'attach', {
      name,
      ...(argv.length ? { argv } : {}),
      ...(o.pid !== undefined ? { pid: o.pid } : {}),
      restart: !!o.restart,
      env: o.env,
      cwd,
    });
    emit(g, e, () => `attached ${e.name}: ${e.kind}${e.pid ? `, pid ${e.pid}` : ''} (${e.state})`);
  });

program
  .command('detach')
  .description('stop monitoring an entity (its process keeps running); a placed one is removed from the cluster (stopped on its owner)')
  .argument('<name>')
  .action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const r = await call(g, 'detach', { name });
    emit(g, { detached: name, ...(r.cluster !== undefined ? { cluster: r.cluster } : {}) }, () => r.cluster ?? `detached ${name}`);
  });

program
  .command('reset')
  .description('bring back a failed entity (restart intensity exceeded) with fresh counters; a placed one: this node may run it again')
  .argument('<name>')
  .action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    const r = await call(g, 'reset', { name });
    emit(g, r, () => ('cluster' in r ? r.cluster : `reset ${name}: starting it again`));
  });

registerByNameCommands(program);
registerModelCommands(program);
registerEventCommands(program);
registerLogCommands(program);
registerDetectorCommands(program);
registerImportCommands(program);
registerTopCommand(program);
registerClusterCommands(program);
registerStartupCommand(program);

/** `ham start NAME`: the pair's own options do not apply to an entity. */
function startByName(g: Globals, name: string, o: Record<string, unknown>): Promise<void> {
  const pairOnly = ['hangMs', 'detectors', 'storeMaxBytes', 'savedMaxBytes', 'allowUser'].filter((k) => o[k] !== undefined);
  const lists = ['passEnv', 'unsetEnv'].filter((k) => (o[k] as string[]).length > 0);
  if (Object.keys(o.env as object).length) lists.push('env');
  const bad = [...pairOnly, ...lists];
  if (bad.length)
    usage(g, `${bad.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} start the pair: not with an entity name (${name})`);
  return control(g, 'start', { name }, !!o.wait);
}

program.parseAsync(process.argv).catch((e: unknown) => fail({ json: process.argv.includes('--json') }, e));
