// Bundle our own code (tsc's output in dist/) into a few files for the two programs the
// package starts: the CLI (dist/src/cli/main.js) and the daemon (dist/src/daemon/main.js, HAM and
// Guardian). A process then reads a handful of files instead of ~100 modules (issue 12: most of a
// CLI call's and a daemon start's CPU is loading modules). Run by `npm run build` after tsc.
//
// - Our code only: packages (lmdb, msgpackr, etcd3, ...) stay imports of node_modules.
// - Splitting: each lazy import() of our code (the HAM's modules in a Guardian, the cluster
//   runtime, `ham start`'s launcher, ...) stays a chunk loaded only when that import() runs.
// - Written to dist/bundle/{cli,daemon}/main.js (chunks in .../chunks/): every path our code derives
//   from import.meta.url goes through src/paths.ts's search for package.json, from any depth.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');

rmSync(outdir, { recursive: true, force: true }); // no stale chunks from an earlier build
// One build per program, not one for both: a chunk shared by the two would be a file more for each
// to load, where each program's static imports are better one file.
for (const name of ['cli', 'daemon']) {
  await build({
    absWorkingDir: root,
    entryPoints: [`dist/src/${name}/main.js`],
    outdir: join(outdir, name),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
}
