// The code layout as a rule (README "Code layout"): each source file belongs
// to one layer, and a layer imports only the layers its row allows. Reads
// the import statements of every file under src/ and guardian/; starts no
// process. Also: no source file under src/, guardian/ or bench/ over 400 lines.
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

/** Helpers every layer may use: they import only the model and each other. */
const BASE = new Set([
  'src/errors.ts',
  'src/environment.ts',
  'src/paths.ts',
  'src/home.ts',
  'src/home-check.ts',
  'src/log.ts',
  'src/failpoints.ts',
  'src/latency.ts',
]);

type Layer =
  | 'model'
  | 'base'
  | 'codec'
  | 'protocol'
  | 'store'
  | 'keeper'
  | 'detector'
  | 'core'
  | 'guardian'
  | 'logs'
  | 'client'
  | 'launch'
  | 'cli'
  | 'http'
  | 'cluster'
  | 'daemon'
  | 'entry';

/** Which layer a file is in (first match); undefined: none, which is itself a failure. */
export function layerOf(path: string): Layer | undefined {
  if (path.startsWith('src/model/')) return 'model';
  if (BASE.has(path) || path.startsWith('src/proc/')) return 'base';
  if (path === 'src/protocol/frame.ts') return 'codec'; // the frame codec: the store sizes values with it
  if (path.startsWith('src/protocol/')) return 'protocol';
  if (path.startsWith('src/store/')) return 'store';
  if (path.startsWith('src/keeper/')) return 'keeper';
  if (path.startsWith('src/detector/')) return 'detector';
  if (path.startsWith('src/ham/')) return 'core';
  if (path.startsWith('guardian/')) return 'guardian';
  if (path.startsWith('src/logs/')) return 'logs';
  if (path.startsWith('src/client/')) return 'client';
  if (path === 'src/cli/launch.ts') return 'launch'; // the CLI's one door to the machine (see ALLOWED)
  if (path.startsWith('src/cli/')) return 'cli';
  if (path.startsWith('src/import/')) return 'cli'; // `ham import`: reads other tools' files, imports only the model and itself
  if (path.startsWith('src/http/')) return 'http';
  if (path.startsWith('src/cluster/')) return 'cluster';
  if (path.startsWith('src/daemon/')) return 'daemon';
  if (path === 'src/index.ts') return 'entry';
  return undefined;
}

/**
 * Layer → the layers it may import (itself included where listed). The
 * issue's rule: "the store imports only the model; the CLI and the client
 * only the protocol and the model" (the codec is the protocol's frame file).
 * What they need of the rest lives in the model (model/errors.ts: HamError;
 * model/home-paths.ts: where a home's socket is; model/environment.ts: what a
 * variable may be; model/encoding.ts: how values are sized) or is handed in
 * (the store's claimHam gets isAlive from its caller).
 */
export const ALLOWED: Record<Layer, readonly Layer[]> = {
  model: ['model'],
  base: ['model', 'base'],
  codec: ['model', 'codec'],
  protocol: ['model', 'base', 'codec', 'protocol'],
  store: ['model', 'store'],
  keeper: ['model', 'base', 'keeper'],
  detector: ['model', 'base', 'codec', 'protocol', 'store', 'logs', 'detector'],
  core: ['model', 'base', 'codec', 'protocol', 'store', 'keeper', 'logs', 'core'],
  guardian: ['model', 'base', 'store', 'guardian'],
  // Reads the home's log files itself (src/logs: the model and node only).
  logs: ['model', 'logs'],
  client: ['model', 'codec', 'protocol', 'logs', 'client'],
  // Truly needed, and kept to one named file (src/cli/launch.ts): `ham start`
  // must make and judge the home, open the daemon's log, spawn the daemon
  // (paths.ts: DAEMON_MAIN) and, at `ham stop`, see its pids end (procfs).
  launch: ['model', 'base'],
  cli: ['model', 'protocol', 'logs', 'client', 'cli', 'launch'],
  // The HTTP listener: the core's views come through protocol/view-source.ts, handed in by the daemon.
  http: ['model', 'base', 'protocol', 'logs', 'http'],
  // The cluster runtime (etcd): handed the core's port by the daemon, loaded only in a cluster.
  cluster: ['model', 'base', 'codec', 'protocol', 'store', 'keeper', 'core', 'cluster'],
  daemon: ['model', 'base', 'codec', 'protocol', 'store', 'keeper', 'detector', 'core', 'guardian', 'http', 'cluster', 'daemon'],
  entry: ['model', 'base', 'protocol', 'client'],
};

const MAX_LINES = 400;

/** The module specifiers a file imports or re-exports (static and dynamic). */
export function specifiers(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: string[] = [];
  for (const re of [/\b(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\bimport\s+['"]([^'"]+)['"]/g]) {
    for (const m of code.matchAll(re)) out.push(m[1]!);
  }
  return out;
}

/** Each import the layout forbids, as `from → to (layer → layer)`. */
export function violations(files: { path: string; text: string }[]): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = layerOf(f.path);
    if (!from) {
      out.push(`${f.path}: in no layer (add it to the table in test/layout/imports.test.ts)`);
      continue;
    }
    for (const s of specifiers(f.text)) {
      if (!s.startsWith('.')) continue; // a package or node: builtin
      const target = posix.normalize(posix.join(posix.dirname(f.path), s)).replace(/\.js$/, '.ts');
      const to = layerOf(target);
      if (!to || !ALLOWED[from].includes(to))
        out.push(`${f.path} imports ${target} (${from} → ${to ?? 'no layer'}; ${from} may import ${ALLOWED[from].join(', ')})`);
    }
  }
  return out;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const read = (path: string): { path: string; text: string } => ({ path, text: readFileSync(join(ROOT, path), 'utf8') });

describe('code layout', () => {
  it('every import under src/ and guardian/ is one its layer may make', () => {
    const files = [...sources('src'), ...sources('guardian')].map(read);
    expect(files.length).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });

  it('the check sees forbidden imports, in every form, and allows the permitted ones', () => {
    const bad = [
      { path: 'src/store/x.ts', text: "import { DEFAULT } from '../ham/backoff.js';" },
      { path: 'src/ham/x.ts', text: "import {\n  DetectorHost,\n  type HostDeps,\n} from '../detector/host.js';" },
      { path: 'src/detector/x.ts', text: "export { LatencyRing } from '../ham/executor.js';" },
      { path: 'guardian/x.ts', text: "const m = await import('../src/ham/ham.js');" },
      { path: 'src/model/x.ts', text: "import type { HamError } from '../errors.js';" },
      { path: 'src/cli/x.ts', text: "import '../store/store.js';" },
      { path: 'src/client/x.ts', text: "import type { EventView } from '../ham/events.js';" },
      { path: 'src/client/x.ts', text: "import { homePaths } from '../home.js';" },
      { path: 'src/cli/x.ts', text: "import { resolveHome } from '../home.js';" },
      { path: 'src/cli/x.ts', text: "import { isAlive } from '../proc/procfs.js';" },
      { path: 'src/store/x.ts', text: "import { HamError } from '../errors.js';" },
      { path: 'src/store/x.ts', text: "import { isAlive } from '../proc/procfs.js';" },
      { path: 'src/store/x.ts', text: "import { encodedSize } from '../protocol/frame.js';" },
      { path: 'src/cli/launch.ts', text: "import { connect } from '../client/connection.js';" },
      { path: 'src/stray.ts', text: '' },
    ];
    expect(violations(bad)).toHaveLength(bad.length);
    const good = [
      { path: 'src/store/x.ts', text: "import { GLOBAL } from '../model/records.js';\n// import { x } from '../ham/ham.js';\nimport { open } from 'lmdb';" },
      { path: 'src/daemon/x.ts', text: "import { runGuardian } from '../../guardian/guardian.js';\nimport { becomeHam } from '../ham/ham.js';" },
      { path: 'src/cli/x.ts', text: "import type { Reply } from '../protocol/responses.js';\nimport { connect } from '../client/connection.js';" },
      { path: 'src/cli/x.ts', text: "import { ensureHome } from './launch.js';\nimport { HamError } from '../model/errors.js';" },
      { path: 'src/cli/launch.ts', text: "export { ensureHome } from '../home.js';\nexport { isAlive } from '../proc/procfs.js';" },
      { path: 'src/store/x.ts', text: "import { HamError } from '../model/errors.js';\nimport { encodedSize } from '../model/encoding.js';" },
    ];
    expect(violations(good)).toEqual([]);
  });

  it(`no source file under src/, guardian/ or bench/ is over ${MAX_LINES} lines`, () => {
    const files = [...sources('src'), ...sources('guardian'), ...sources('bench')];
    const long = files
      .map((p) => ({ p, lines: read(p).text.split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.p}: ${f.lines} lines`);
    expect(long).toEqual([]);
  });
});
