// The race orders of the placed entities no node owns (README "Cluster"), computed alike on
// every node from the same view of etcd. Entities freed at once (a node lost) must not all
// rank the same node first: each is given its order in name order, counting the node that
// ranks first for it as one more entity there, so that `balanced` ones split over the
// survivors (9/8, not 17/0) and the later ones see what the earlier ones will take.
import type { Placement } from '../model/cluster.js';
import { candidateOrder, moveOrder, withoutGaveUp } from './policy.js';

export interface Unowned {
  name: string;
  placement: Placement;
  /** `ham relocate` in progress: the node it leaves and the one asked for. */
  move?: { from: string; to: string | null } | undefined;
  /** Nodes whose recovery gave up on it: they take no part until `ham reset` there. */
  gaveUp?: ReadonlySet<string> | undefined;
}

/**
 * For each unowned entity, the live nodes in the order they race for it. `owners` holds one
 * node name per owned entity (the load as etcd shows it); a node first in an order counts as
 * owning that entity for the orders after it.
 */
export function raceOrders(unowned: Unowned[], live: string[], owners: string[]): Map<string, string[]> {
  const load = [...owners];
  const out = new Map<string, string[]>();
  for (const u of [...unowned].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    let order = withoutGaveUp(candidateOrder(u.placement, live, load), u.gaveUp);
    if (u.move) order = moveOrder(order, u.move);
    out.set(u.name, order);
    if (order[0] !== undefined) load.push(order[0]);
  }
  return out;
}
