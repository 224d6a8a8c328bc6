// Management of conditions and actions: add, remove, enable, disable. Each
// request is one fenced transaction on the owning entity; errors name what is
// missing or duplicated.
import { HamError } from '../errors.js';
import { issuesError, MAX_ISSUES, pathText, type Path } from '../protocol/issues.js';
import { restartAddIssues, restartCountIssues, type RuleIssue } from '../protocol/rules.js';
import type { ConditionBody } from '../protocol/specs.js';
import type { ActionRecord, ActionSpec, ConditionRecord } from '../model/conditions.js';
import { GLOBAL, type EntityRecord } from '../model/records.js';
import { enabledActions, isAbnormal, matches, toActionRecord, toConditionRecord } from './conditions.js';
import { forgetSpent } from './spent-conditions.js';
import type { Supervisor } from './supervisor.js';

export class Manager {
  constructor(private readonly sup: Supervisor) {}

  /** The owner of conditions: an entity, or `*` (created on first use). */
  private owner(entity: string): EntityRecord {
    if (entity !== GLOBAL) return this.sup.mustGet(entity);
    return this.sup.get(GLOBAL) ?? this.sup.createGlobal();
  }

  conditionAdd(entity: string, name: string, body: ConditionBody): ConditionRecord {
    const owner = this.owner(entity);
    if (owner.conditions.some((c) => c.name === name))
      throw new HamError({ code: 'duplicate-condition', entity, message: `entity ${entity} already has a condition named ${JSON.stringify(name)}` });
    const rec = toConditionRecord({ name, ...body });
    checkRestarts(entity, [...owner.conditions, rec], ['condition-add', 'condition', 'actions']);
    this.sup.updateEntity(entity, (x, runNow) => {
      x.conditions.push(rec);
      forgetSpent(x, name); // armed again
      const now = enabledActions(rec.actions.filter((a) => a.now));
      if (now.length && rec.enabled && x.enabled) runNow(name, now);
    });
    return rec;
  }

  conditionRm(entity: string, name: string): void {
    this.sup.updateEntity(entity, (x) => {
      const i = x.conditions.findIndex((c) => c.name === name);
      if (i < 0) throw unknownCondition(entity, name);
      x.conditions.splice(i, 1);
    });
  }

  actionAdd(entity: string, condition: string, action: ActionSpec, onFailOf?: string[]): ActionRecord {
    const owner = this.owner(entity);
    const c = findCondition(owner, condition);
    const misplaced = restartAddIssues(action, c, onFailOf !== undefined, ['action-add', 'action']);
    if (misplaced.length) throw ruleError(entity, misplaced);
    const rec = toActionRecord(action);
    this.sup.updateEntity(entity, (x, runNow) => {
      const cond = findCondition(x, condition);
      const list = onFailOf ? listAt(cond, onFailOf, entity).onFail : cond.actions;
      if (list.some((a) => a.name === action.name))
        throw new HamError({
          code: 'duplicate-action',
          entity,
          message: `condition ${condition} already has an action named ${JSON.stringify(action.name)}${onFailOf ? ` under ${onFailOf.join('/')}` : ''}`,
        });
      list.push(rec);
      checkRestarts(entity, x.conditions, ['action-add', 'action']);
      if (action.now && action.enabled && cond.enabled && x.enabled && !onFailOf) runNow(condition, enabledActions([rec]));
    });
    return rec;
  }

  actionRm(entity: string, condition: string, path: string[]): void {
    this.sup.updateEntity(entity, (x) => {
      const cond = findCondition(x, condition);
      const list = path.length > 1 ? listAt(cond, path.slice(0, -1), entity).onFail : cond.actions;
      const i = list.findIndex((a) => a.name === path[path.length - 1]);
      if (i < 0) throw unknownAction(entity, condition, path);
      list.splice(i, 1);
    });
  }

  /** Enable or disable an entity, a condition, or an action; what is below follows. */
  enable(entity: string, condition: string | undefined, path: string[] | undefined, enabled: boolean): void {
    if (entity === GLOBAL) this.owner(GLOBAL);
    const wasDisabled = this.sup.get(entity)?.enabled === false;
    const e = this.sup.updateEntity(entity, (x) => {
      if (condition === undefined) {
        x.enabled = enabled;
        return;
      }
      const cond = findCondition(x, condition);
      if (!path) {
        cond.enabled = enabled;
        return;
      }
      listAt(cond, path, entity).enabled = enabled;
    });
    // It died while disabled (no condition fired): the restart its death conditions hold is done now, as `ham start NAME`.
    if (condition === undefined && enabled && wasDisabled && diedWhileDisabled(e)) this.sup.byName.start(entity, false).catch((err: unknown) => void err); // its failure to start is its state, as for any start
  }
}

/** Dead with no restart coming, though a death condition of its own with a restart action matches its last exit. */
function diedWhileDisabled(e: EntityRecord): boolean {
  if (e.life.tag !== 'dead' || e.life.restart !== 'none' || e.argv.length === 0 || !e.lastExit) return false;
  const exit = { ...e.lastExit, core: false };
  const death = { entity: e.name, type: isAbnormal(exit) ? ('abnormal-death' as const) : ('death' as const), exit };
  return e.conditions.some((c) => matches(c, death) && enabledActions(c.actions).some((a) => a.kind === 'restart'));
}

function findCondition(owner: EntityRecord, name: string): ConditionRecord {
  const c = owner.conditions.find((x) => x.name === name);
  if (!c) throw unknownCondition(owner.name, name);
  return c;
}

/** The action at a path of names: main → onFail → ... */
function listAt(c: ConditionRecord, path: string[], entity: string): ActionRecord {
  let list = c.actions;
  let found: ActionRecord | undefined;
  for (const name of path) {
    found = list.find((a) => a.name === name);
    if (!found) throw unknownAction(entity, c.name, path);
    list = found.onFail;
  }
  return found!;
}

function checkRestarts(entity: string, conditions: ConditionRecord[], path: Path): void {
  const broken = restartCountIssues(entity, conditions, path);
  if (broken.length) throw ruleError(entity, broken);
}

const ruleError = (entity: string, broken: RuleIssue[]): HamError =>
  issuesError(
    broken.map((i) => ({ ...i, path: pathText(i.path) })),
    { entity, max: MAX_ISSUES },
  );

const unknownCondition = (entity: string, name: string): HamError =>
  new HamError({ code: 'unknown-condition', entity, message: `entity ${entity} has no condition named ${JSON.stringify(name)}` });
const unknownAction = (entity: string, condition: string, path: string[]): HamError =>
  new HamError({ code: 'unknown-action', entity, message: `condition ${condition} of ${entity} has no action ${JSON.stringify(path.join('/'))}` });
