// `ham reload NAME --wait` with notify readiness: done once its keeper counts a
// READY=1 after a RELOADING=1 that came after the signal. Its keeper counts
// RELOADING=1 (reloads) and notes that count at each READY=1 (reloaded); the
// count taken just before the signal is the mark, so a READY=1 that ended an
// earlier reload (or came before the signal) is never taken for this one's end,
// and a RELOADING=1 and READY=1 that both came between two reads still count.
import { HamError } from '../errors.js';
import { keeperDir } from '../keeper/link.js';
import { readReadyState } from '../keeper/ready-state.js';
import type { EntityRecord } from '../model/records.js';
import type { SupervisorCore } from './supervisor-core.js';

/** RELOADING=1 seen so far for `e`'s instance: read from its keeper's state file itself (the store may lag). */
function reloadsNow(core: SupervisorCore, e: EntityRecord): number {
  const s = e.keeper ? readReadyState(keeperDir(core.paths, e.id, e.keeper.serial)) : null;
  return s && s.instance === e.instance ? s.reloads : (e.keeperReady?.reloads ?? 0);
}

/**
 * Called before the signal goes (its synchronous part takes the mark); settles once the reload is
 * done, or throws a timeout after its readiness timeoutMs. Without notify: done at once.
 */
export async function reloaded(core: SupervisorCore, e: EntityRecord): Promise<void> {
  if (e.readiness?.probe.kind !== 'notify') return;
  const { instance } = e;
  const mark = reloadsNow(core, e);
  const over = (x: EntityRecord | undefined): boolean => !x || x.instance !== instance || (x.keeperReady?.reloaded ?? 0) > mark;
  const timeoutMs = e.readiness.timeoutMs;
  const after = await core.waitFor(e.name, over, timeoutMs);
  if (after && after.instance === instance && (after.keeperReady?.reloaded ?? 0) > mark) return;
  const began = (after?.keeperReady?.reloads ?? 0) > mark;
  const now = !after
    ? 'it is gone'
    : after.instance !== instance
      ? 'it was started again'
      : began
        ? 'still RELOADING=1'
        : 'no RELOADING=1 seen since the signal';
  throw new HamError({
    code: 'timeout',
    entity: e.name,
    message: `reload ${e.name}: expected READY=1 after RELOADING=1 within ${timeoutMs} ms (its readiness timeoutMs), ${now}`,
  });
}
