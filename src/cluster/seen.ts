// What this node has seen of the cluster under PREFIX/ (one range read per reconcile): the
// definitions, the owners with their fencing tokens, the live nodes, the moves under way,
// the nodes that gave up on an entity and the entities stopped cluster-wide.
import type { PlacedDef } from './def.js';

export interface Seen {
  defs: Map<string, { def: PlacedDef; raw: string }>;
  owners: Map<string, { node: string; lease: string; revision: string }>;
  nodes: Map<string, string>;
  /** `ham relocate` in progress: the node it leaves (it tries last) and the one asked for (it tries first). */
  moves: Map<string, { from: string; to: string | null }>;
  /** PREFIX/gaveup/NAME/NODE: the nodes whose recovery gave up on NAME (until `ham reset NAME` there). */
  gaveUp: Map<string, Set<string>>;
  /** PREFIX/stopped/NAME: stopped cluster-wide by `ham stop NAME` (until `ham start NAME`). */
  stopped: Set<string>;
}

export const emptySeen = (): Seen => ({ defs: new Map(), owners: new Map(), nodes: new Map(), moves: new Map(), gaveUp: new Map(), stopped: new Set() });

/** The keys under the prefix (without it) as a Seen; a value that is not ours is skipped and named to `bad`. */
export function readSeen(all: Map<string, { value: string; lease: string; revision: string }>, bad: (key: string) => void): Seen {
  const seen = emptySeen();
  for (const [k, v] of all) {
    const [kind, name, node, more] = k.split('/');
    if (!name || more !== undefined) continue;
    if (kind === 'defs' && node === undefined) {
      try {
        seen.defs.set(name, { def: JSON.parse(v.value) as PlacedDef, raw: v.value });
      } catch {
        bad(k);
      }
    } else if (kind === 'owners' && node === undefined) seen.owners.set(name, { node: v.value, lease: v.lease, revision: v.revision });
    else if (kind === 'nodes' && node === undefined) seen.nodes.set(name, v.lease);
    else if (kind === 'moves' && node === undefined) {
      try {
        seen.moves.set(name, JSON.parse(v.value) as { from: string; to: string | null });
      } catch {
        bad(k);
      }
    } else if (kind === 'gaveup' && node) (seen.gaveUp.get(name) ?? seen.gaveUp.set(name, new Set()).get(name)!).add(node);
    else if (kind === 'stopped' && node === undefined) seen.stopped.add(name);
  }
  return seen;
}

/** Nodes whose key is there now and was not before (a node back, or a new lease): failback looks at them. */
export function nodesBack(before: Seen, now: Seen): Set<string> {
  const back = new Set<string>();
  for (const [n, lease] of now.nodes) if (before.nodes.get(n) !== lease) back.add(n);
  return back;
}
