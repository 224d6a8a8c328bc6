// The `ham` command line. Every command takes --home and --json.
import { Command, InvalidArgumentError, Option } from 'commander';
import { connect } from '../client/connection.js';
import { HamError } from '../errors.js';
import type { EntityView, StatusView } from '../ham/status.js';
import { resolveHome } from '../home.js';
import type { Op, RequestArgs } from '../protocol/requests.js';
import { startPair, stopPair } from './daemon.js';
import { formatEntity, formatPair, formatStatus } from './format.js';
import { emit, fail, type OutputOptions } from './output.js';

interface Globals extends OutputOptions {
  home?: string;
}

function positiveInt(what: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer for ${what}, got ${JSON.stringify(v)}`);
    return n;
  };
}

function envPair(v: string, acc: Record<string, string>): Record<string, string> {
  const i = v.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`expected NAME=VALUE, got ${JSON.stringify(v)}`);
  return { ...acc, [v.slice(0, i)]: v.slice(i + 1) };
}

/** One request to the HAM serving the home; not running → exit 1 with the error. */
async function call<O extends Op>(g: Globals, op: O, args: Partial<RequestArgs<O>>): Promise<unknown> {
  const home = resolveHome(g.home);
  let c;
  try {
    c = await connect({ home });
  } catch {
    fail(g, new HamError({ code: 'not-running', message: `no HAM is running on ${home} (start one with \`ham start\`)` }));
  }
  try {
    return await c.request(op, args);
  } catch (e) {
    fail(g, e);
  } finally {
    c.close();
  }
}

const program = new Command('ham')
  .description('a self-healing High Availability Manager: a HAM and its Guardian keep your processes alive')
  .addOption(new Option('--home <dir>', 'HAM home (default: $HAM_HOME, else ~/.local/state/ham)'))
  .option('--json', 'machine-readable output (one JSON object)')
  .showHelpAfterError();

const globals = (cmd: Command): Globals => cmd.optsWithGlobals<Globals>();

program
  .command('start')
  .description('start the HAM and its Guardian (returns once both are up)')
  .option('--hang-ms <ms>', 'a partner silent this long is hung: killed and replaced (default 1000)', positiveInt('--hang-ms'))
  .action(async (o: { hangMs?: number }, cmd: Command) => {
    const g = globals(cmd);
    const home = resolveHome(g.home);
    try {
      const { already, status } = await startPair(home, { hangMs: o.hangMs });
      const out = { already, home, ham: status.ham, guardian: status.guardian };
      emit(g, out, () => `${already ? 'already running' : 'started'} on ${home}: ${formatPair(status)}`);
    } catch (e) {
      fail(g, e);
    }
  });

program
  .command('stop')
  .description('stop the Guardian, then the HAM; entities keep running unless --all')
  .option('--all', 'also stop every entity (SIGTERM, then SIGKILL of its process group)')
  .action(async (o: { all?: boolean }, cmd: Command) => {
    const g = globals(cmd);
    const home = resolveHome(g.home);
    try {
      const before = await stopPair(home, !!o.all);
      if (!before) return emit(g, { stopped: false, home, reason: 'not running' }, () => `not running on ${home}`);
      emit(g, { stopped: true, home, ham: before.ham, guardian: before.guardian, entitiesStopped: !!o.all }, () => `stopped on ${home}${o.all ? ' (entities stopped too)' : '; entities keep running'}`);
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
    const s = (await call(g, 'status', name === undefined ? {} : { name })) as StatusView;
    emit(g, s, () => (name === undefined ? formatStatus(s) : `${formatPair(s)}\n\n${formatEntity(s.entities[0]!)}`));
  });

program
  .command('attach')
  .description('spawn and monitor a command: ham attach NAME [--restart] -- CMD ARGS...')
  .argument('<name>', 'a unique entity name')
  .argument('<command...>', 'the command and its arguments (put them after --); run without a shell')
  .option('--restart', 'restart it whenever it dies')
  .option('--env <NAME=VALUE>', 'an environment variable (repeatable)', envPair, {})
  .option('--cwd <dir>', 'working directory (default: the current one)')
  .action(async (name: string, argv: string[], o: { restart?: boolean; env: Record<string, string>; cwd?: string }, cmd: Command) => {
    const g = globals(cmd);
    const cwd = o.cwd === undefined ? process.cwd() : (await import('node:path')).resolve(o.cwd);
    const e = (await call(g, 'attach', { name, argv, restart: !!o.restart, env: o.env, cwd })) as EntityView;
    emit(g, e, () => `attached ${e.name}: pid ${e.pid ?? '-'} (${e.state})`);
  });

program
  .command('detach')
  .description('stop monitoring an entity (its process keeps running)')
  .argument('<name>')
  .action(async (name: string, _o: unknown, cmd: Command) => {
    const g = globals(cmd);
    await call(g, 'detach', { name });
    emit(g, { detached: name }, () => `detached ${name}`);
  });

program.parseAsync(process.argv).catch((e: unknown) => fail({ json: process.argv.includes('--json') }, e));
