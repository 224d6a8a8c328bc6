// Build the C parts with plain `cc`: the keeper (src/keeper/keeper.c and keeper-log.c →
// build/keeper), its launcher (src/keeper/launcher.c → build/launcher), the pair's watch (guardian/watch.c → build/watch), the daemons' nanny
// (guardian/nanny.c → build/nanny) and the
// peer-credentials addon (native/peercred.c → build/peercred.node) and the fd addon
// (native/fds.c → build/fds.node: close-on-exec for the daemons' fds), and the
// code-pages addon (native/pages.c → build/pages.node: an idle daemon's code pages unmapped). Run by
// `npm run build` and by npm's `prepare`. A missing compiler or missing Node
// headers never fail the install: the HAM then uses the Perl keeper, beats
// without the watch, and refuses what it cannot verify without the addon
// (see README, "Who may connect").
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const headers = join(dirname(realpathSync(process.execPath)), '..', 'include', 'node');
const cc = process.env.CC || 'cc';

/** Compile into a temp file, then rename: a running HAM never loads or execs half a file. */
function compile(out, args) {
  mkdirSync(join(root, 'build'), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync(cc, [...args, '-o', tmp], { stdio: ['ignore', 'inherit', 'inherit'] });
  renameSync(tmp, out);
}

function warn(what, e, fallback) {
  process.stderr.write(
    `\nham: WARNING: could not build ${what} (${e.message.split('\n')[0]}).\nham: ${fallback}\n` +
      'ham: Install a C compiler and libc headers (e.g. gcc libc6-dev) and run `npm run build`.\n\n',
  );
}

// Programs: static where libc.a is there (no relocations to copy: a hundred
// keepers share all but ~60 KiB each; dynamic: ~140 KiB each).
// `shared`: dynamic always, for a program that runs a couple of times only (the nannies: ~150 KiB
// PSS each against ~470 static, as there are too few to share a static binary's pages).
function program(src, out, what, fallback, shared = false) {
  const args = ['-O2', '-Wall', '-Wextra', '-Werror', ...[src].flat().map((s) => join(root, s))];
  try {
    try {
      if (shared) throw new Error('dynamic');
      compile(join(root, 'build', out), ['-static', ...args]);
    } catch {
      compile(join(root, 'build', out), args);
    }
  } catch (e) {
    warn(what, e, fallback);
  }
}

program(
  [
    'src/keeper/keeper.c',
    'src/keeper/keeper-log.c',
    'src/keeper/keeper-log-file.c',
    'src/keeper/keeper-drain.c',
    'src/keeper/keeper-ready.c',
    'src/keeper/keeper-runas.c',
    'src/keeper/keeper-fence.c',
    'src/keeper/keeper-title.c',
  ],
  'keeper',
  'the C keeper',
  'entities will be kept by the Perl keeper (about ten times the memory per entity).',
);
program(
  'src/keeper/launcher.c',
  'launcher',
  'the keeper launcher',
  'keepers will be started by the HAM itself (a fork of the Node process each: slower to start many).',
);
program('guardian/watch.c', 'watch', 'the pair watch', 'the HAM and its Guardian will beat a few times a second even when idle.');
program(
  'guardian/nanny.c',
  'nanny',
  "the daemons' nanny",
  'the HAM and its Guardian will watch each other with the pair watch (a few wake-ups a second when idle).',
  true,
);

try {
  if (!existsSync(join(headers, 'node_api.h'))) throw new Error(`no node_api.h under ${headers}`);
  compile(join(root, 'build', 'peercred.node'), ['-shared', '-fPIC', '-O2', '-Wall', '-I', headers, join(root, 'native', 'peercred.c')]);
} catch (e) {
  warn(
    'the peer-credentials addon',
    e,
    'the HAM will serve only its own user and root, and only while the socket and home keep mode 0600/0700;\nham: `--allow-user` cannot be honoured.',
  );
}

try {
  if (!existsSync(join(headers, 'node_api.h'))) throw new Error(`no node_api.h under ${headers}`);
  compile(join(root, 'build', 'fds.node'), ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-I', headers, join(root, 'native', 'fds.c')]);
} catch (e) {
  warn('the fd addon', e, "what the HAM spawns may inherit the store's file descriptors (data.mdb).");
}

try {
  if (!existsSync(join(headers, 'node_api.h'))) throw new Error(`no node_api.h under ${headers}`);
  compile(join(root, 'build', 'pages.node'), ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-I', headers, join(root, 'native', 'pages.c')]);
} catch (e) {
  warn('the code-pages addon', e, 'an idle daemon keeps every page of code its start-up touched mapped (about 40 MiB more RSS and PSS).');
}
