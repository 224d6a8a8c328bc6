// The building blocks of the lifecycle table's steps, shared by the table
// (lifecycle-table.ts) and its rows for requests by name (lifecycle-requests.ts).
import type { Effect, LifeOccurrence, Mark, Step } from './lifecycle-events.js';

export const step = (next: Step['next'], effects: Effect[] = [], occurrences: LifeOccurrence[] = [], marks: Mark[] = []): Step => ({
  next,
  effects,
  occurrences,
  marks,
});

export const release = (parked: number | null): Effect[] => (parked === null ? [] : [{ kind: 'release-keeper', seq: parked }]);

/** Start it: through its parked keeper if one waits, else a new keeper. */
export function launch(restart: boolean, parked: number | null, keeperParked: boolean, effects: Effect[] = [], occurrences: LifeOccurrence[] = []): Step {
  if (parked !== null && keeperParked)
    return step({ tag: 'starting', restart, via: parked }, [...effects, { kind: 'restart-keeper', seq: parked }], occurrences);
  return step({ tag: 'starting', restart, via: null }, [...effects, { kind: 'spawn-keeper', restart, adopt: false }], occurrences, ['new-keeper']);
}
