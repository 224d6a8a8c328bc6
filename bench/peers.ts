// `npm run bench:peers`: ham beside runit, s6, PM2 and supervisord in one run
// of the peers harness (../shared/peers, or PEERS_DIR), its tables copied into
// BENCHMARKS.md's "Peers" section. The harness's README says what to install.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../src/paths.js';
import { machine, withSection } from './lib.js';

const dir = resolve(process.env.PEERS_DIR ?? join(PACKAGE_ROOT, '..', 'shared', 'peers'));
if (!existsSync(join(dir, 'bench.sh'))) {
  process.stderr.write(`no peers harness at ${dir} (set PEERS_DIR)\n`);
  process.exit(2);
}
const home = process.env.PEERS_HOME ?? join(process.env.TMPDIR ?? tmpdir(), 'ham-peers');
const peers = process.argv.slice(2);
// Its tables come from report.py over what this run wrote: nothing is edited by hand.
if (!process.env.PEERS_REPORT_ONLY)
  execFileSync('bash', [join(dir, 'bench.sh'), ...peers], { stdio: 'inherit', env: { ...process.env, HAM_CHECKOUT: PACKAGE_ROOT } });
const tables = execFileSync('python3', [join(dir, 'report.py'), join(home, 'results')], { encoding: 'utf8' });
// `npm run bench:peers -- ham` measures only the named ones: the other rows are the harness's earlier results.
const which = peers.length
  ? `Only ${peers.join(', ')} and the baseline measured in this run (\`npm run bench:peers -- ${peers.join(' ')}\`); the other rows are the
harness's results from its last full run (see the dates in its tables).`
  : 'One run of the harness for every supervisor.';
const body = `## Peers

The peers harness (\`npm run bench:peers\`: \`bench.sh\` then \`report.py\`, tables as printed) on
${machine()}, ${new Date().toISOString().slice(0, 10)}. ${which} Every supervisor runs the same program; "baseline" is the
harness starting it itself (the physical limit for a restart). The harness counts ham's processes by the home in
their command line: the keepers, the two daemons and their nannies (the \`/proc\` watch, only a fallback now, is
not among them).

${tables.trim()}
`;
const file = join(PACKAGE_ROOT, 'BENCHMARKS.md');
writeFileSync(file, withSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', 'peers', body));
process.stdout.write(`${tables}\nwrote the Peers section of BENCHMARKS.md\n`);
