// A placed entity whose stop failed may still run: it must not live on once this node gives up its
// ownership (another node would start it), so its group (the keeper makes its command a group leader)
// is killed, only while its pid is still that process (pid and start time: no reused pid is hit).
import type { EntityRecord } from '../model/records.js';
import { isAlive } from '../proc/procfs.js';

/** Is `rec`'s process (pid and start time) still there? */
export const runs = (rec: EntityRecord): boolean => rec.pid !== null && rec.pidStart !== null && isAlive({ pid: rec.pid, start: rec.pidStart });

export function killGroup(rec: EntityRecord): void {
  const pid = rec.pid;
  if (pid === null || !runs(rec)) return;
  for (const target of [-pid, pid])
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone meanwhile, or not a group leader */
    }
}
