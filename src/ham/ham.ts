// Serving as the HAM: the control socket, the entities, and a Guardian.
// Reached two ways: `ham start` (fresh) or a Guardian's takeover. The order
// matters for takeover latency: answer the socket first, then resume the
// entities (keepers kept them alive meanwhile), then spawn the new Guardian.
import { GuardianPartner } from '../../guardian/partner.js';
import { HamError } from '../errors.js';
import type { HomePaths } from '../home.js';
import type { Logger } from '../log.js';
import { cmdline, isAlive } from '../proc/procfs.js';
import { ControlServer } from '../protocol/server.js';
import { markStopping, release } from '../store/roles.js';
import type { Store } from '../store/store.js';
import type { Roles } from '../store/types.js';
import { entityView, readStatus } from './status.js';
import { Supervisor } from './supervisor.js';

export interface HamContext {
  store: Store;
  paths: HomePaths;
  epoch: number;
  log: Logger;
  /** `ham start` rather than a takeover. */
  fresh: boolean;
  previous: Roles;
}

/** Environment variables of ours that entities must not inherit. */
const PRIVATE_ENV = /^(HAM_|NODE_CHANNEL_)/;

export async function becomeHam(ctx: HamContext): Promise<void> {
  const { store, paths, epoch, log } = ctx;
  log.role = 'ham';
  const fenced = (e: HamError): never => {
    log('error', 'fenced: another process holds the HAM role; exiting', { error: e.message });
    process.exit(3);
  };
  // A Guardian left over from an earlier pair (hung, or racing this start) is not ours.
  const stale = ctx.previous.guardian;
  if (stale && stale.pid !== process.pid && isAlive(stale) && cmdline(stale.pid).some((a) => a.endsWith('main.js'))) {
    process.kill(stale.pid, 'SIGKILL');
  }

  const baseEnv = Object.fromEntries(Object.entries(process.env).filter((kv): kv is [string, string] => kv[1] !== undefined && !PRIVATE_ENV.test(kv[0])));
  const supervisor = new Supervisor({ store, epoch, paths, log, baseEnv, onFenced: fenced });
  const partner = new GuardianPartner({ paths, store, epoch, hangMs: store.settings().hangMs, log });
  let stopping = false;

  const server = new ControlServer({
    ping: () => ({ pid: process.pid, epoch }),
    status: ({ name }) => {
      if (name !== undefined) supervisor.mustGet(name);
      return readStatus(store, name);
    },
    attach: async (args) => {
      refuseWhileStopping();
      return entityView(await supervisor.attach(args));
    },
    detach: ({ name }) => {
      refuseWhileStopping();
      supervisor.detach(name);
      return { name };
    },
    stop: async ({ all }) => {
      refuseWhileStopping();
      stopping = true;
      try {
        markStopping(store, epoch);
      } catch (e) {
        if (e instanceof HamError && e.code === 'fenced') fenced(e);
        throw e;
      }
      log('info', 'stopping', { all });
      await partner.stop();
      if (all) await supervisor.stopAll();
      // Reply first, then leave.
      setTimeout(() => {
        supervisor.close();
        server.close();
        release(store, epoch);
        store.close();
        log('info', 'stopped');
        process.exit(0);
      }, 50);
      return { pid: process.pid, stoppedEntities: all };
    },
  });
  const refuseWhileStopping = (): void => {
    if (stopping) throw new HamError({ code: 'stopping', message: 'the HAM is stopping' });
  };

  await server.listen(paths.socket);
  supervisor.resume(ctx.fresh);
  partner.start();
  log('info', 'serving as HAM', { epoch, fresh: ctx.fresh, entities: store.allEntities().length });
}
