// The rules about `restart` actions, written once: `condition-add`,
// `action-add` and `apply` all ask here. A restart belongs to one entity's
// death: only in a death or abnormal-death condition, never among
// fail-actions, at most one per entity, none on the global entity `*`.
// Structural types only: the rules need a kind, a type and the lists.
import type { Path } from './issues.js';

/** A broken rule: where (a path from the caller's point), what was expected, what came. */
export interface RuleIssue {
  path: Path;
  expected: string;
  got?: string;
}

interface ActionLike {
  kind: string;
  onFail: ActionLike[];
}
interface ConditionLike {
  name: string;
  type: string;
  actions: ActionLike[];
}

const GLOBAL = '*';
const RESTARTS_ON = new Set(['death', 'abnormal-death']);

/** A restart among these fail-actions (at `path`): each one is a problem. */
function restartsInFailActions(list: ActionLike[], path: Path, out: RuleIssue[]): void {
  list.forEach((a, i) => {
    if (a.kind === 'restart') out.push({ path: [...path, i, 'kind'], expected: 'expected no restart among fail-actions', got: '"restart"' });
    restartsInFailActions(a.onFail, [...path, i, 'onFail'], out);
  });
}

/** Where restarts stand in one condition's list (paths from `at`, the condition). */
export function restartPlacementIssues(type: string, actions: ActionLike[], at: Path = []): RuleIssue[] {
  const out: RuleIssue[] = [];
  actions.forEach((a, i) => {
    if (a.kind === 'restart' && !RESTARTS_ON.has(type)) out.push({ path: [...at, 'actions', i, 'kind'], expected: onlyOnDeath('this one', type) });
    restartsInFailActions(a.onFail, [...at, 'actions', i, 'onFail'], out);
  });
  return out;
}

/** May this action go into the condition's list (under a fail-action when `asFailAction`)? Its own fail-actions are judged too, at any depth. */
export function restartAddIssues(action: ActionLike, condition: { name: string; type: string }, asFailAction: boolean, path: Path): RuleIssue[] {
  const out: RuleIssue[] = [];
  if (action.kind === 'restart') {
    if (asFailAction) out.push({ path: [...path, 'kind'], expected: 'expected no restart among fail-actions', got: '"restart"' });
    else if (!RESTARTS_ON.has(condition.type)) out.push({ path: [...path, 'kind'], expected: onlyOnDeath(condition.name, condition.type) });
  }
  restartsInFailActions(action.onFail, [...path, 'onFail'], out); // its own fail-actions, at any depth
  return out;
}

const onlyOnDeath = (name: string, type: string): string => `expected restart only on a death or abnormal-death condition, ${name} is ${type}`;

/** How many restart actions these conditions hold, fail-actions included. */
export function restartCount(conditions: ConditionLike[]): number {
  let n = 0;
  const count = (list: ActionLike[]): void => {
    for (const a of list) {
      if (a.kind === 'restart') n++;
      count(a.onFail);
    }
  };
  for (const c of conditions) count(c.actions);
  return n;
}

/** The entity-wide rules: none on `*`, at most one. `path` names the entity's conditions. */
export function restartCountIssues(entity: string, conditions: ConditionLike[], path: Path): RuleIssue[] {
  const n = restartCount(conditions);
  if (entity === GLOBAL && n > 0) return [{ path, expected: 'expected no restart action on the global entity *: restart belongs to one entity' }];
  if (n > 1) return [{ path, expected: `expected at most one restart action per entity, ${entity} would have ${n}` }];
  return [];
}
