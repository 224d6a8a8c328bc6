// Groups and dependencies as a graph: who is in which group and in what
// order, who requires whom, and cycles (refused at apply time, named).
// Pure functions, shared by apply and the coordinator.
import type { Strategy } from '../model/records.js';

/** The members a member's restart takes along, by strategy (not including itself). */
export function affected(strategy: Strategy, order: string[], name: string): string[] {
  if (strategy === 'one-for-all') return order.filter((m) => m !== name);
  if (strategy === 'rest-for-one') return order.slice(order.indexOf(name) + 1);
  return [];
}

/** A cycle in `requires` as a path that starts and ends at the same name, or undefined. */
export function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'open') return [...path.slice(path.indexOf(n)), n];
    state.set(n, 'open');
    path.push(n);
    for (const m of edges.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    path.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of [...edges.keys()].sort()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}
