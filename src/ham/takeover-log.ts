// The log line of a takeover. Its event is in the store with the role change
// (roles.ts); the line can only be written after that commit, so a Guardian
// killed right after it would leave a takeover with no line. The note in the
// roles says whether the line is out: every process that starts serving as
// HAM (the one that took over, or a later `ham start` after it died) writes
// the line of a takeover not yet logged, then marks it logged.
import { HamError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/store.js';

export function logTakeover(store: Store, epoch: number, log: Logger): void {
  const t = store.roles().takeover;
  if (!t || t.logged) return;
  const late = t.epoch !== epoch;
  log('warn', 'took over the HAM role', {
    reason: t.reason,
    epoch: t.epoch,
    oldHam: t.oldHam,
    event: t.seq,
    at: new Date(t.at).toISOString(),
    ...(late ? { late: true, by: t.by, note: 'that HAM died before it could log this; logged by the next HAM' } : {}),
  });
  try {
    store.fenced(epoch, () => {
      const r = store.roles();
      if (r.takeover?.seq === t.seq) store.putRoles({ ...r, takeover: { ...t, logged: true } });
    });
  } catch (e) {
    if (!(e instanceof HamError && e.code === 'fenced')) throw e;
    // Another HAM now: it logs whatever is still unlogged.
  }
}
