// `ham apply -f FILE`: declare entities and their conditions. The file is
// planned by a pure function (apply-plan.ts) against what the HAM holds now;
// an invalid file changes nothing and its error lists every problem with its
// path in the file (`entities.web.conditions.died.actions[1].kind`), as text
// and as data (`issues`); a valid plan is one transaction. Applying the same
// file twice changes nothing.
import { procId } from '../proc/procfs.js';
import { issuesError } from '../protocol/issues.js';
import type { EntityRecord } from '../model/records.js';
import { planApply, type Change, type World } from './apply-plan.js';
import { executableProblem } from './executable.js';
import { Mutex, Pacer } from './pace.js';
import { markKeeperStale } from './stale-keeper.js';
import type { Supervisor } from './supervisor.js';

export type { Change } from './apply-plan.js';
export { ESCALATE_CONDITION } from './apply-schema.js';

/** At most this many problems are listed (a file with thousands of them must not make a reply too big to send). */
export const MAX_PROBLEMS = 100;

/** One apply at a time per HAM process: an apply yields while it validates and plans. */
const applying = new Mutex();

export function applyConfig(
  sup: Supervisor,
  config: unknown,
  o: { dryRun: boolean; cwd: string; baseEnv: Record<string, string>; home: string },
): Promise<{ dryRun: boolean; changes: Change[] }> {
  return applying.run(() => applyNow(sup, config, o));
}

async function applyNow(
  sup: Supervisor,
  config: unknown,
  o: { dryRun: boolean; cwd: string; baseEnv: Record<string, string>; home: string },
): Promise<{ dryRun: boolean; changes: Change[] }> {
  // Planning yields every few ms (a file of 10,000 entities used to be one
  // turn: the Guardian took the HAM for hung). The commit re-reads each
  // entity inside its one transaction, so what changed between slices is not lost.
  const pace = new Pacer();
  const world: World = {
    cwd: o.cwd,
    home: o.home,
    baseEnv: o.baseEnv,
    groups: sup.groups(),
    entity: (name) => sup.get(name),
    entities: () => sup.all(),
    executableProblem,
    pidRunning: (pid) => procId(pid) !== undefined,
    tick: () => pace.tick(),
  };
  const planned = await planApply(config, world);
  if (!planned.ok) throw issuesError(planned.issues, { max: MAX_PROBLEMS, head: 'in the configuration' });
  const { plan } = planned;
  if (!o.dryRun) {
    const updates = plan.updates.map((u) => ({
      name: u.name,
      fn: (x: EntityRecord) => {
        if (u.conditions) x.conditions = u.conditions;
        if (u.spent) x.spentConditions = u.spent;
        if (u.config) Object.assign(x, u.config);
        if (u.config) markKeeperStale(x); // its keeper would start the old definition
        if (u.policy) Object.assign(x, u.policy);
      },
    }));
    const stale = plan.updates.filter((u) => u.config).map((u) => u.name);
    await sup.commitPlan(plan.creates, updates, plan.groups, stale);
  }
  return { dryRun: o.dryRun, changes: plan.changes };
}
