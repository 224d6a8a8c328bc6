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
export const RUNNER_SCRIPT = join(PACKAGE_ROOT, 'src', 'detector', 'runner.pl');
export const DAEMON_MAIN = join(PACKAGE_ROOT, 'dist', 'src', 'daemon', 'main.js');
export const CLI_MAIN = join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'main.js');

/**
 * perl, for keepers: found in the fixed PATH, not in the entity's own (an
 * entity whose PATH lacks perl must still get its keeper).
 */
export const PERL = FIXED_PATH.split(':').map((d) => join(d, 'perl')).find((p) => existsSync(p)) ?? 'perl';
