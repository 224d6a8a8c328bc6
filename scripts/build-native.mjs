// Build the C parts with plain `cc`: the keeper (src/keeper/keeper.c →
// build/keeper) and the peer-credentials addon (native/peercred.c →
// build/peercred.node). Run by `npm run build` and by npm's `prepare`. A
// missing compiler or missing Node headers never fail the install: the HAM then
// uses the Perl keeper, and refuses what it cannot verify without the addon
// (see README, "Who may connect").
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'native', 'peercred.c');
const out = join(root, 'build', 'peercred.node');
const headers = join(dirname(realpathSync(process.execPath)), '..', 'include', 'node');
const cc = process.env.CC || 'cc';

/** Compile into a temp file, then rename: a running HAM never loads or execs half a file. */
function compile(out, args) {
  mkdirSync(join(root, 'build'), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync(cc, [...args, '-o', tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, out);
}

// Static where libc.a is there: a static keeper has no relocations to copy, so a
// hundred of them share all but ~60 KiB each (dynamic: ~140 KiB each).
const keeperArgs = ['-O2', '-Wall', '-Wextra', '-Werror', join(root, 'src', 'keeper', 'keeper.c')];
try {
  try {
    compile(join(root, 'build', 'keeper'), ['-static', ...keeperArgs]);
  } catch {
    compile(join(root, 'build', 'keeper'), keeperArgs);
  }
} catch (e) {
  process.stderr.write(
    `\nham: WARNING: could not build the C keeper (${e.message.split('\n')[0]}).\n` +
      'ham: entities will be kept by the Perl keeper (about ten times the memory per entity).\n' +
      'ham: Install a C compiler and libc headers (e.g. gcc libc6-dev) and run `npm run build`.\n\n',
  );
}

try {
  if (!existsSync(join(headers, 'node_api.h'))) throw new Error(`no node_api.h under ${headers}`);
  compile(out, ['-shared', '-fPIC', '-O2', '-Wall', '-I', headers, src]);
} catch (e) {
  process.stderr.write(
    `\nham: WARNING: could not build the peer-credentials addon (${e.message.split('\n')[0]}).\n` +
      'ham: the HAM will serve only its own user and root, and only while the socket and home keep mode 0600/0700;\n' +
      'ham: `--allow-user` cannot be honoured. Install a C compiler and libc headers (e.g. gcc libc6-dev) and run `npm run build`.\n\n',
  );
}
