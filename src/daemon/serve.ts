// The composition root of a HAM: the core (src/ham/), the detector host
// (src/detector/) and the Guardian link (guardian/) put together. None of the
// three imports another; each is handed what it needs of the others here.
import { join } from 'node:path';
import { GuardianPartner } from '../../guardian/partner.js';
import { DetectorHost } from '../detector/host.js';
import { becomeHam, type HamContext, type PartnerPart } from '../ham/ham.js';

/**
 * Serve as the HAM: after `ham start`'s claim, or a Guardian's takeover (guardian/guardian.ts is
 * handed this). `ham start` hands in a partner it already started (its Guardian boots while this
 * process loads the HAM's modules); a takeover spawns the new Guardian last, once it serves.
 */
export function serveAsHam(ctx: HamContext, started?: GuardianPartner): Promise<void> {
  const { store, paths, epoch, log } = ctx;
  const http = store.settings().http;
  const partner: PartnerPart = started
    ? { start: () => undefined, stop: () => started.stop() }
    : new GuardianPartner({ paths, store, epoch, hangMs: store.settings().hangMs, log });
  return becomeHam(ctx, {
    partner,
    detectors: (port, baseEnv) =>
      new DetectorHost({ dir: store.settings().detectorsDir ?? join(paths.root, 'detectors'), home: paths.root, baseEnv, store, log, ...port }),
    // Loaded only when asked for (most HAMs never serve HTTP: its modules cost memory).
    view: http
      ? (source) =>
          void import('../http/server.js')
            .then(({ HttpListener }) => new HttpListener(paths.root, http, source, log).start())
            .catch((e: Error) => log('error', 'http: the listener could not be loaded', { error: e.message }))
      : undefined,
    cluster: (port) =>
      import('../cluster/runtime.js').then(({ ClusterRuntime }) => {
        const r = new ClusterRuntime(port);
        r.resume();
        return r;
      }),
  });
}
