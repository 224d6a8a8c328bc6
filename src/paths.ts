// Where the package's own files are, from wherever the compiled code runs.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXED_PATH } from './environment.js';
import { HamError } from './errors.js';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new HamError({ code: 'internal', message: 'ham: cannot find the package root (no package.json above the code)' });
    dir = up;
  }
  return dir;
}

export const PACKAGE_ROOT = findRoot();
export const KEEPER_SCRIPT = join(PACKAGE_ROOT, 'src', 'keeper', 'keeper.pl');
/** The C keeper, compiled at install (scripts/build-native.mjs); absent without a compiler. */
export const KEEPER_BINARY = join(PACKAGE_ROOT, 'build', 'keeper');
/** Starts keepers off the HAM's event loop (src/keeper/launcher.c); absent without a compiler. */
export const LAUNCHER_BINARY = join(PACKAGE_ROOT, 'build', 'launcher');
/** The pair's watch (guardian/watch.c): lets an idle HAM and Guardian skip their beats. */
export const WATCH_BINARY = join(PACKAGE_ROOT, 'build', 'watch');
/** Each daemon's parent (guardian/nanny.c): tells its partner of its hangs, so an idle pair needs no watch. */
export const NANNY_BINARY = join(PACKAGE_ROOT, 'build', 'nanny');
export const RUNNER_SCRIPT = join(PACKAGE_ROOT, 'src', 'detector', 'runner.pl');
/** The live view's static files (HTML, JS, CSS: no build step), served by the HTTP listener. */
export const VIEW_DIR = join(PACKAGE_ROOT, 'src', 'http', 'view');
/**
 * The two programs the package starts, as bundled by scripts/bundle.mjs (a few files to load, not
 * ~100 modules); tsc's own output when built without the bundle step.
 */
function program(name: 'cli' | 'daemon'): string {
  const bundled = join(PACKAGE_ROOT, 'dist', 'bundle', name, 'main.js');
  return existsSync(bundled) ? bundled : join(PACKAGE_ROOT, 'dist', 'src', name, 'main.js');
}
export const DAEMON_MAIN = program('daemon');
/**
 * Node flags for both daemons (a Guardian becomes the HAM in place, so they share them). Measured
 * by bench/memory.ts with 100 entities: a 1 MiB semi-space, GC on the main thread and one V8
 * worker thread (not four, each with its own malloc arena) take the pair from ~52 to ~37 MiB PSS
 * with no slower takeover or restart (bench/takeover.ts, bench/restart.ts). No Sparkplug: its
 * baseline code cost the HAM ~1 MiB for code that is seldom hot (the hot paths still get
 * TurboFan). Not --jitless, --lite-mode or --no-opt: they slow the work a takeover does, and
 * 10,000 entities' status and apply. --expose-gc: the HAM collects a burst's garbage once it is
 * over (src/ham/rest-gc.ts) instead of keeping it until V8 finds it idle. Not --optimize-for-size:
 * it keeps the heap small too, but doubles the CPU of a 10,000-entity apply.
 * --no-memory-reducer: V8's reducer repeats a full GC 8 s after the last one once the process is
 * idle (each daemon, after its start and after the rest GC: ~50–100 ms of an idle pair's CPU, for
 * 0.2 MiB of heap measured with 100 entities); the rest GC of each role does that job once.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--single-threaded-gc',
  '--v8-pool-size=1',
  '--no-sparkplug',
  '--expose-gc',
  '--no-memory-reducer',
];
/**
 * glibc malloc for both daemons (the CLI starts the HAM with it; the Guardians it spawns inherit
 * it; entities, keepers and detectors get environments of their own): one arena, blocks of 64 KiB
 * and more mapped apart and unmapped when freed, free memory at the top given back past 64 KiB.
 * Compilers' and buffers' freed memory otherwise stays in the process (bench/memory.ts: ~1 MiB).
 * A variable already set in the environment is kept.
 */
export const DAEMON_MALLOC_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '65536' };

/**
 * How to spawn a daemon with these Node arguments: through its nanny when it was built, unless
 * HAM_NANNY=off (tests of the fallback; the HAM's environment reaches its Guardians too).
 */
export function daemonSpawn(args: readonly string[]): { file: string; args: string[] } {
  const nanny = process.env.HAM_NANNY !== 'off' && existsSync(NANNY_BINARY);
  return nanny ? { file: NANNY_BINARY, args: [process.execPath, ...args] } : { file: process.execPath, args: [...args] };
}
export const CLI_MAIN = program('cli');

/** What a daemon shows in `ps` (process.title): which role, for which home; the HAM's with its epoch. */
export function daemonTitle(role: 'ham' | 'guardian', home: string, epoch?: number): string {
  return role === 'ham' ? `ham: HAM ${home} epoch ${epoch ?? 0}` : `ham: guardian ${home}`;
}

/**
 * Is this command line a daemon's (of `home`, when given)? By its title, or, in its first moments
 * before it sets one, by its script. A nanny's (it carries the same arguments) is not.
 */
export function isDaemonArgv(argv: string[], home?: string): boolean {
  const title = argv[0] ?? '';
  if (title.startsWith('ham: HAM ') || title.startsWith('ham: guardian ')) {
    if (home === undefined) return true;
    return title === `ham: guardian ${home}` || (title.startsWith(`ham: HAM ${home} epoch `) && /^\d+$/.test(title.slice(`ham: HAM ${home} epoch `.length)));
  }
  if (title.endsWith('/build/nanny')) return false;
  return argv.some((a) => a.endsWith('daemon/main.js')) && (home === undefined || argv.includes(home));
}

/**
 * perl, for keepers: found in the fixed PATH, not in the entity's own (an
 * entity whose PATH lacks perl must still get its keeper).
 */
export const PERL =
  FIXED_PATH.split(':')
    .map((d) => join(d, 'perl'))
    .find((p) => existsSync(p)) ?? 'perl';

export type KeeperKind = 'c' | 'perl';

let chosen: { kind: KeeperKind; argv: string[] } | undefined;

/**
 * Which keeper new entities get: the C one when it was built, the Perl one
 * otherwise, or when HAM_KEEPER=perl asks for it (tests run both). Decided
 * once per process: every status and ping names it, and a keeper built while
 * a HAM runs is taken up at its next start, as the log line says.
 */
export function keeperCommand(): { kind: KeeperKind; argv: string[] } {
  chosen ??=
    process.env.HAM_KEEPER !== 'perl' && existsSync(KEEPER_BINARY) ? { kind: 'c', argv: [KEEPER_BINARY] } : { kind: 'perl', argv: [PERL, KEEPER_SCRIPT] };
  return chosen;
}

/** Is this command line a keeper's (either kind)? Tests and benches find keepers by it. */
export function isKeeperArgv(argv: string[]): boolean {
  // By suffix, not KEEPER_BINARY itself: another checkout's keepers count too. Titled: the C keeper once it runs.
  return argv[0]?.endsWith('/build/keeper') === true || argv[0]?.startsWith(KEEPER_TITLE) === true || argv.some((a) => a.endsWith('keeper.pl'));
}

/** What the C keeper's command line becomes (keeper-title.c): `ham keeper NAME HOME`. */
export const KEEPER_TITLE = 'ham keeper ';
