// Where a placed entity may run, in order (README "Cluster"): the policies, a move's order,
// the nodes that gave up on it (they take no part until `ham reset` there) and, for
// `failback: true`, its home. Pure: what etcd holds goes in, an order comes out.
import type { Placement } from '../model/cluster.js';

/**
 * The live nodes that may run an entity, in the order they try (TruCluster CAA's policies):
 * favored: the listed ones in their order, then (not restricted) the others by name;
 * balanced: the same, fewest placed entities first; restricted: only the listed ones.
 */
export function candidateOrder(p: Placement, live: string[], owners: string[]): string[] {
  const listed = p.nodes.filter((n) => live.includes(n));
  const others = p.policy === 'restricted' ? [] : live.filter((n) => !p.nodes.includes(n)).sort();
  const order = [...listed, ...others];
  if (p.policy !== 'balanced') return order;
  const load = new Map<string, number>();
  for (const n of owners) load.set(n, (load.get(n) ?? 0) + 1);
  return order
    .map((n, i) => ({ n, i, l: load.get(n) ?? 0 }))
    .sort((a, b) => a.l - b.l || a.i - b.i)
    .map((x) => x.n);
}

/** The order during a move: the node asked for first; the node it leaves not at all while another may run it. */
export function moveOrder(order: string[], move: { from: string; to: string | null }): string[] {
  const rest = order.filter((n) => n !== move.from && n !== move.to);
  const first = move.to && move.to !== move.from && order.includes(move.to) ? [move.to] : [];
  const others = [...first, ...rest];
  return others.length > 0 ? others : order;
}

/** The order without the nodes that gave up on it: none of them races for it again until reset there. */
export function withoutGaveUp(order: string[], gaveUp: ReadonlySet<string> | undefined): string[] {
  return gaveUp ? order.filter((n) => !gaveUp.has(n)) : order;
}

/**
 * failback: where an entity owned by `owner` goes home to when `back` (nodes whose key just
 * reappeared) brings its most favored node: the first listed live node that did not give up on
 * it. None when it is home already, failback is off, or its home is not among those back.
 */
export function failbackTo(p: Placement, live: string[], gaveUp: ReadonlySet<string> | undefined, owner: string, back: ReadonlySet<string>): string | null {
  if (!p.failback) return null;
  const home = withoutGaveUp(
    p.nodes.filter((n) => live.includes(n)),
    gaveUp,
  )[0];
  return home !== undefined && home !== owner && back.has(home) ? home : null;
}
