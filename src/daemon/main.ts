// The daemon process: started as the HAM by `ham start`, or as a Guardian by
// the HAM. Both roles live in one program because a Guardian becomes the HAM
// in place when it takes over.
import { runGuardian } from '../../guardian/guardian.js';
import { BASE_ENV_VAR, decodeBaseEnvRequest, nextBaseEnv } from '../environment.js';
import { HamError } from '../errors.js';
import { ensureHome } from '../home.js';
import { becomeHam } from '../ham/ham.js';
import { createLogger } from '../log.js';
import { procId } from '../proc/procfs.js';
import { claimHam } from '../store/roles.js';
import { checkLimitSettings } from '../store/limits.js';
import { Store } from '../store/store.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  process.umask(0o077); // the socket, FIFOs, logs and store: owner only
  const role = arg('role');
  const home = arg('home');
  const log = createLogger(role ?? 'daemon');
  process.on('uncaughtException', (e) => {
    log('error', 'uncaught exception', { error: e.message, stack: e.stack });
    process.exit(e instanceof HamError && e.code === 'fenced' ? 3 : 1);
  });
  if (!home || (role !== 'ham' && role !== 'guardian')) {
    log('error', 'usage: main.js --home DIR --role ham|guardian [--epoch N] [--hang-ms MS] [--detectors DIR]');
    process.exit(2);
  }
  const paths = ensureHome(home, role === 'guardian' ? 'guardian' : 'start');
  if (role === 'guardian') return runGuardian({ paths, epoch: Number(arg('epoch')), log });

  const store = new Store(paths.store);
  const hangMs = Number(arg('hang-ms'));
  if (Number.isFinite(hangMs) && hangMs > 0) store.write(() => store.putSettings({ ...store.settings(), hangMs }));
  // The entities' base environment: fixed at the first start, changed only by `ham start --env ...`.
  const request = decodeBaseEnvRequest(process.env[BASE_ENV_VAR]);
  delete process.env[BASE_ENV_VAR];
  store.write(() => {
    const s = store.settings();
    if (s.baseEnv === null || request) store.putSettings({ ...s, baseEnv: nextBaseEnv(s.baseEnv, process.env, request) });
  });
  const detectorsDir = arg('detectors');
  if (detectorsDir !== undefined) store.write(() => store.putSettings({ ...store.settings(), detectorsDir: detectorsDir === '' ? null : detectorsDir }));
  for (const [flag, key] of [['store-max-bytes', 'storeMaxBytes'], ['saved-max-bytes', 'savedMaxBytes']] as const) {
    const n = Number(arg(flag));
    if (Number.isInteger(n) && n > 0 && checkLimitSettings({ ...store.settings(), [key]: n }) === undefined) store.write(() => store.putSettings({ ...store.settings(), [key]: n }));
  }
  const allow = arg('allow-user');
  if (allow !== undefined) store.write(() => store.putSettings({ ...store.settings(), allowUsers: allow.split(',').filter(Boolean) }));
  let claimed;
  try {
    claimed = claimHam(store, procId(process.pid)!);
  } catch (e) {
    log('warn', 'not starting', { error: (e as Error).message });
    process.exit(e instanceof HamError && e.code === 'already-running' ? 0 : 1);
  }
  await becomeHam({ store, paths, epoch: claimed.epoch, log, fresh: true, previous: claimed.previous });
}

void main();
