// Which conditions an occurrence fires, and the bookkeeping around them.
import type { ActionRecord, ActionSpec, ConditionRecord, ConditionSpec, Occurrence, StateSet } from '../model/conditions.js';
import type { EntityRecord } from '../model/records.js';

/** Signals whose default action is a core dump (signal(7)): an abnormal death. */
export const ABNORMAL_SIGNALS = new Set(['SIGABRT', 'SIGBUS', 'SIGFPE', 'SIGILL', 'SIGQUIT', 'SIGSEGV', 'SIGSYS', 'SIGTRAP', 'SIGXCPU', 'SIGXFSZ']);

export function isAbnormal(exit: Occurrence['exit']): boolean {
  return !!exit && (exit.core === true || (exit.signal !== null && ABNORMAL_SIGNALS.has(exit.signal)));
}

function inSet(v: string | null, set: StateSet | undefined): boolean {
  if (!set) return true;
  if (set.in) return v !== null && set.in.includes(v);
  if (set.notIn) return v === null || !set.notIn.includes(v);
  return true;
}

export function matches(c: ConditionRecord, o: Occurrence): boolean {
  if (!c.enabled) return false;
  if (c.type !== 'any' && c.type !== o.type && !(c.type === 'death' && o.type === 'abnormal-death')) return false;
  if (c.type === 'raise' && c.match) {
    const r = o.raise;
    if (!r) return false;
    if (c.match.type !== undefined && c.match.type !== r.type) return false;
    if (c.match.class !== undefined && c.match.class !== r.class) return false;
    if (c.match.severity !== undefined && c.match.severity !== r.severity) return false;
  }
  // A cluster condition's `match.type` names the cluster event (etcd-lost, gave-up...), any when absent.
  if (c.type === 'cluster' && c.match?.type !== undefined && c.match.type !== o.cluster?.event) return false;
  if (c.type === 'state') {
    if (!o.state) return false;
    if (!inSet(o.state.from, c.from) || !inSet(o.state.to, c.to)) return false;
  }
  return true;
}

/** The enabled actions of a list (and of their fail-actions), as a snapshot for a run. */
export function enabledActions(list: ActionSpec[]): ActionSpec[] {
  return list.filter((a) => a.enabled).map((a) => ({ ...stripCounters(a), onFail: enabledActions(a.onFail) }));
}

function stripCounters(a: ActionSpec): ActionSpec {
  const { runs: _r, failures: _f, lastRunAt: _l, lastResult: _lr, lastError: _le, lastFailure: _lf, ...spec } = a as ActionRecord;
  return spec as ActionSpec;
}

/** Every action kind in a list, fail-actions included. */
export function kindsIn(list: ActionSpec[], out = new Set<string>()): Set<string> {
  for (const a of list) {
    out.add(a.kind);
    kindsIn(a.onFail, out);
  }
  return out;
}

export function toActionRecord(a: ActionSpec): ActionRecord {
  return { ...a, onFail: a.onFail.map(toActionRecord), runs: 0, failures: 0, lastRunAt: null, lastResult: null, lastError: null };
}

export function toConditionRecord(c: ConditionSpec, previous?: ConditionRecord): ConditionRecord {
  const rec: ConditionRecord = { ...c, actions: c.actions.map(toActionRecord), fired: 0, failed: 0, lastFiredAt: null };
  if (previous) keepCounters(rec, previous);
  return rec;
}

/** Carry counters over from a previous version of the same condition (apply is idempotent). */
function keepCounters(next: ConditionRecord, prev: ConditionRecord): void {
  next.fired = prev.fired;
  next.failed = prev.failed;
  next.lastFiredAt = prev.lastFiredAt;
  const carry = (list: ActionRecord[], old: ActionRecord[]): void => {
    for (const a of list) {
      const o = old.find((x) => x.name === a.name && x.kind === a.kind);
      if (!o) continue;
      Object.assign(a, { runs: o.runs, failures: o.failures, lastRunAt: o.lastRunAt, lastResult: o.lastResult, lastError: o.lastError });
      if (o.lastFailure) a.lastFailure = o.lastFailure;
      carry(a.onFail, o.onFail);
    }
  };
  carry(next.actions, prev.actions);
}

/** The live action at a path of names (main → onFail → ...), if it still exists. */
export function actionAt(c: ConditionRecord, names: string[]): { list: ActionRecord[]; index: number } | undefined {
  let list = c.actions;
  for (let depth = 0; depth < names.length; depth++) {
    const index = list.findIndex((a) => a.name === names[depth]);
    if (index < 0) return undefined;
    if (depth === names.length - 1) return { list, index };
    list = list[index]!.onFail;
  }
  return undefined;
}

/** The condition `--restart` stands for. */
export function restartCondition(): ConditionRecord {
  return toConditionRecord({
    name: 'restart',
    type: 'death',
    enabled: true,
    rearm: true,
    independent: false,
    actions: [{ name: 'restart', kind: 'restart', enabled: true, now: false, breakOnFail: false, keepOnFail: true, onFail: [] }],
  });
}
