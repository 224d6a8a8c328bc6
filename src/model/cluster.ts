// What a node of a cluster keeps in its store (README "Cluster"): the `cluster:` block it
// joined with, its etcd lease (a takeover inside the node continues it: nothing moves), and
// the placed entities it owns, each with its fencing token.
export interface ClusterConfig {
  etcd: string[];
  node: string;
  ttlMs: number;
  prefix: string;
  auth?: { username: string; password: string };
  tls?: ClusterTls;
}

/** `cluster.tls`: the PEM files as apply read them (a takeover reconnects with these, not the files now). */
export interface ClusterTls {
  ca: string;
  caFile: string;
  cert?: string;
  certFile?: string;
  key?: string;
  keyFile?: string;
}

export interface OwnedPlacement {
  /** The ownership key's revision: it rises with every new owner. */
  token: string;
  since: number;
}

export interface ClusterState {
  config: ClusterConfig;
  /** The node's lease (decimal), or null before it was granted. */
  lease: string | null;
  owned: Record<string, OwnedPlacement>;
  /** When the last confirmed renewal of `lease` was sent (epoch ms): a takeover's HAM counts its deadlines from it. */
  confirmedAt?: number | null;
}

export const PLACEMENT_POLICIES = ['favored', 'balanced', 'restricted'] as const;
export type PlacementPolicy = (typeof PLACEMENT_POLICIES)[number];

export interface Placement {
  nodes: string[];
  policy: PlacementPolicy;
  failback: boolean;
}
