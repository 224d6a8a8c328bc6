// The daemon process: started as the HAM by `ham start`, or as a Guardian by
// the HAM. Both roles live in one program because a Guardian becomes the HAM
// in place when it takes over.
//
// Only what both roles need at boot is imported statically: the HAM role spawns
// its Guardian right after claiming the role and loads the HAM's modules
// meanwhile (two Node start-ups overlap instead of following each other).
import { GuardianPartner } from '../../guardian/partner.js';
import { initNanny } from '../../guardian/nanny.js';
import { BASE_ENV_VAR } from '../environment.js';
import { HamError } from '../errors.js';
import { failpoint } from '../failpoints.js';
import { ensureHome } from '../home.js';
import { createLogger } from '../log.js';
import { daemonTitle } from '../paths.js';
import { holdClaimLock, sealFds } from '../proc/fds.js';
import { isAlive, procId } from '../proc/procfs.js';
import { claimHam, pairStarted } from '../store/roles.js';
import { Store } from '../store/store.js';
import { HTTP_TOKEN_ENV_VAR } from '../model/http.js';
import { nextSettings, startRequest } from './settings.js';
import { afterBurst } from '../ham/rest-gc.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  process.umask(0o077); // the socket, FIFOs, logs and store: owner only
  initNanny(); // before anything: a partner's nanny may alert us (SIGUSR2) from our first moment
  const role = arg('role');
  const home = arg('home');
  const log = createLogger(role ?? 'daemon');
  process.on('uncaughtException', (e) => {
    log('error', 'uncaught exception', { error: e.message, stack: e.stack });
    process.exit(e instanceof HamError && e.code === 'fenced' ? 3 : 1);
  });
  if (home && role === 'stop-all') {
    // `ham stop --all` with no HAM (stop-offline.ts): its report on stdout, one JSON object.
    const r = await (await import('./stop-offline.js')).stopOffline(ensureHome(home)).catch((e: unknown) => ({ error: HamError.from(e).toShape() }));
    return void process.stdout.write(`${JSON.stringify(r)}\n`);
  }
  if (!home || (role !== 'ham' && role !== 'guardian')) {
    log('error', 'usage: main.js --home DIR --role ham|guardian [--epoch N] [--hang-ms MS] [--detectors DIR]');
    process.exit(2);
  }
  const paths = ensureHome(home, role === 'guardian' ? 'guardian' : 'start');
  if (role === 'guardian') {
    process.title = daemonTitle('guardian', paths.root);
    // Ready first (`ham start` waits for it), then a warm standby: what a takeover runs (the HAM's
    // modules) is loaded right after; a takeover before that load is over waits for the same load.
    const { runGuardian } = await import('../../guardian/guardian.js');
    let serving: Promise<typeof import('./serve.js')> | undefined;
    const load = (): Promise<typeof import('./serve.js')> => (serving ??= import('./serve.js'));
    runGuardian({ paths, epoch: Number(arg('epoch')), log, serve: async (t) => (await load()).serveAsHam(t) });
    const t0 = performance.now();
    const standBy = (): Promise<void> =>
      load().then(
        () => {
          log('debug', "standing by: the HAM's modules loaded", { ms: Math.round(performance.now() - t0) });
          afterBurst(log); // its start's garbage, collected once (the daemons run without V8's memory reducer)
        },
        (e: Error) => {
          // A Guardian that could not serve is no standby: its HAM starts another.
          log('error', "the HAM's modules could not be loaded: exiting", { error: e.message });
          process.exit(1);
        },
      );
    // HAM_GUARDIAN_LOAD_DELAY_MS (tests): the load that much later, so that a takeover can come before it.
    const delay = Number(process.env.HAM_GUARDIAN_LOAD_DELAY_MS);
    if (delay > 0) setTimeout(() => void standBy(), delay);
    else setImmediate(() => void standBy());
    return;
  }

  const unlock = holdClaimLock(paths.claimLock); // concurrent starts open and claim one at a time
  const store = new Store(paths.store);
  sealFds(); // the store's fds (and any passed to us) are not for what we spawn
  const request = startRequest(arg, process.env, BASE_ENV_VAR);
  delete process.env[BASE_ENV_VAR];
  delete process.env[HTTP_TOKEN_ENV_VAR]; // kept in the store (owner-only), never passed on
  let claimed;
  try {
    claimed = claimHam(store, procId(process.pid)!, isAlive, () => {
      store.putSettings(nextSettings(store.settings(), request, process.env));
      pairStarted(store, process.pid);
    });
  } catch (e) {
    log('warn', 'not starting', { error: (e as Error).message });
    process.exit(e instanceof HamError && e.code === 'already-running' ? 0 : 1);
  }
  unlock();
  let guardianReady!: () => void;
  const ready = new Promise<void>((resolve) => (guardianReady = resolve));
  const partner = new GuardianPartner({ paths, store, epoch: claimed.epoch, hangMs: store.settings().hangMs, log, onReady: () => guardianReady() });
  partner.start();
  failpoint('ham-claimed'); // crash tests: the role claimed and the Guardian spawned, nothing served yet
  const { serveAsHam } = await import('./serve.js');
  await serveAsHam({ store, paths, epoch: claimed.epoch, log, fresh: true, previous: claimed.previous }, partner);
  // `ham start` waits on the IPC channel it opened for the pair to be whole: told, not polled.
  // With the pair as a ping would show it: the start needs no request of its own.
  if (process.connected) {
    await ready;
    const { pairView } = await import('../ham/pages.js'); // loaded with the HAM already
    process.send?.({ t: 'up', pair: pairView(store.roles()) }, undefined, {}, () => process.connected && process.disconnect());
  }
}

void main();
