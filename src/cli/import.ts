// ham import pm2|supervisord|systemd: another tool's configuration as a ham
// apply file on stdout, with what could not be carried over as comments.
// Needs no running pair: it only reads files.
import type { Command } from 'commander';
import type { Imported } from '../import/index.js';
import { emit, fail } from './output.js';
import { globals } from './call.js';

type Importers = typeof import('../import/index.js');

export function registerImportCommands(program: Command): void {
  const imp = program
    .command('import')
    .description("print a ham apply file (YAML) equivalent to another tool's configuration; what it cannot carry over is said in comments");
  const out = async (cmd: Command, make: (m: Importers) => Promise<Imported> | Imported) => {
    const g = globals(cmd);
    try {
      const m = await import('../import/index.js');
      const im = await make(m);
      // As every command prints: control characters from the files shown escaped (YAML comments, never values: those are JSON).
      emit(g, im, () => m.toYaml(im).trimEnd());
    } catch (e) {
      fail(g, e);
    }
  };
  imp
    .command('pm2')
    .description('a PM2 ecosystem file: .json, .yaml/.yml, or .js (a .js file is your code: it is run in a child node process to read what it exports)')
    .argument('<file>', 'ecosystem.config.js, .json or .yaml')
    .option('--env <name>', 'also take env_NAME (as pm2 start --env NAME)')
    .action((file: string, o: { env?: string }, cmd: Command) => out(cmd, (m) => m.importPm2(file, o.env)));
  imp
    .command('supervisord')
    .description('a supervisord configuration: its [program:x] and [group:x] sections, and the files its [include] names')
    .argument('<file>', 'supervisord.conf')
    .action((file: string, _o: unknown, cmd: Command) => out(cmd, (m) => m.importSupervisord(file)));
  imp
    .command('systemd')
    .description('systemd service units, one entity each (Requires=/After= between them become requires)')
    .argument('<units...>', 'UNIT.service files')
    .action((files: string[], _o: unknown, cmd: Command) => out(cmd, (m) => m.importSystemd(files)));
}
