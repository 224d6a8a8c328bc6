// Conditions without `rearm` are pruned when the entity restarts (QNX). The
// entity remembers each one pruned, as it was declared, so that applying the
// same file again leaves it spent: it was a change the restart made, not the
// file (re-adding it reported "condition X added" and re-armed a one-shot).
// A declaration that differs, or `ham condition add`, arms it again.
import type { ConditionRecord, ConditionSpec } from '../model/conditions.js';
import type { EntityRecord } from '../model/records.js';
import { toConditionRecord } from './conditions.js';

/** Spec fields only, keys sorted: equal configurations compare equal. */
export function canon(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x,
  );
}
const COUNTERS = new Set(['runs', 'failures', 'lastRunAt', 'lastResult', 'lastError', 'lastFailure', 'fired', 'failed', 'lastFiredAt']);
/** A condition's declaration: its counters left out. */
export function specOf(c: ConditionSpec | ConditionRecord): string {
  return canon(JSON.parse(JSON.stringify(c), (k, v: unknown) => (COUNTERS.has(k) ? undefined : v)));
}

/** Spent conditions kept per entity (the oldest forgotten first): a bound on the stored record. */
export const MAX_SPENT = 32;

export interface SpentCondition {
  name: string;
  /** Its declaration (specOf: counters left out). */
  spec: string;
}

/** At a restart, inside its transaction: the conditions not re-armed pruned, and remembered. */
export function pruneOneShot(rec: EntityRecord): void {
  const gone = rec.conditions.filter((c) => !c.rearm);
  if (gone.length === 0) return;
  rec.conditions = rec.conditions.filter((c) => c.rearm);
  const kept = (rec.spentConditions ?? []).filter((s) => !gone.some((g) => g.name === s.name));
  rec.spentConditions = [...kept, ...gone.map((g) => ({ name: g.name, spec: specOf(g) }))].slice(-MAX_SPENT);
}

/** Is declaration `d` (absent from the entity's conditions) one a restart pruned, unchanged? */
export function isSpent(spent: SpentCondition[] | undefined, d: ConditionSpec): boolean {
  return !!spent?.some((s) => s.name === d.name && s.spec === specOf(toConditionRecord(d)));
}

/** `ham condition add NAME`: armed again. */
export function forgetSpent(rec: EntityRecord, name: string): void {
  if (rec.spentConditions?.some((s) => s.name === name)) rec.spentConditions = rec.spentConditions.filter((s) => s.name !== name);
}
