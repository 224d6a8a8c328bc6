// What `ham cluster status` shows of each placed entity, from what this node has seen of etcd.
import type { OwnedPlacement } from '../model/cluster.js';
import type { PlacedView } from '../protocol/cluster.js';
import { candidateOrder, withoutGaveUp } from './policy.js';
import type { Seen } from './seen.js';

export function placedViews(seen: Seen, owned: Record<string, OwnedPlacement>, me: string): PlacedView[] {
  const live = [...seen.nodes.keys()];
  return [...seen.defs].map(([name, { def }]) => {
    const o = seen.owners.get(name);
    const mine = o?.node === me && owned[name]?.token === o.revision;
    const gaveUp = seen.gaveUp.get(name);
    // Unplaced with no live node left that did not give up on it: it stays so until `ham reset` on one.
    const givenUp = !!gaveUp?.size && withoutGaveUp(candidateOrder(def.placement, live, []), gaveUp).length === 0;
    return {
      name,
      policy: def.placement.policy,
      nodes: def.placement.nodes,
      unknownNodes: def.placement.nodes.filter((n) => !seen.nodes.has(n)),
      owner: o?.node ?? null,
      token: o?.revision ?? null,
      state: mine ? 'running' : o ? 'elsewhere' : seen.stopped.has(name) ? 'stopped' : givenUp ? 'gave-up' : 'unplaced',
      since: mine ? new Date(owned[name]!.since).toISOString() : null,
      gaveUp: [...(gaveUp ?? [])].sort(),
      failback: def.placement.failback,
    };
  });
}
