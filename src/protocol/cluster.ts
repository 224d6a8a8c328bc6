// The cluster parts of an apply file (`cluster:` at its top, `placement:` on an entity) and
// what `ham cluster status` shows. README "Cluster"; DESIGN "Operator contracts", Cluster.
import { z } from 'zod';
import { PLACEMENT_POLICIES } from '../model/cluster.js';
import { entityName } from './requests.js';

/** etcd's lease TTL is in whole seconds: ttlMs is rounded up to one. */
export const clusterConfig = z
  .object({
    etcd: z
      .array(z.string().regex(/^https?:\/\/[^\s/]+$/, 'expected an endpoint such as http://127.0.0.1:2379'))
      .min(1, 'expected at least one etcd endpoint')
      .max(16),
    node: entityName,
    ttlMs: z.number().int().min(2000, 'expected at least 2000 ms (etcd grants leases in whole seconds)').max(600_000).default(10_000),
    prefix: z
      .string()
      .regex(/^\/[\x21-\x7e]{0,127}$/, "expected a key prefix starting with '/'")
      .default('/ham/'),
    auth: z
      .object({ username: z.string().min(1).max(128), password: z.string().max(1024) })
      .strict()
      .optional(),
    /** Paths (from the apply file's folder); read at apply (cluster/tls-files.ts). */
    tls: z
      .object({ ca: z.string().min(1).max(4096), cert: z.string().min(1).max(4096).optional(), key: z.string().min(1).max(4096).optional() })
      .strict()
      .refine((t) => (t.cert === undefined) === (t.key === undefined), {
        message: 'expected cert and key together (a client certificate and its key), or neither',
      })
      .optional(),
  })
  .strict()
  .refine((c) => !c.tls || c.etcd.every((e) => e.startsWith('https://')), {
    message: 'expected https:// endpoints with tls (every connection uses it)',
    path: ['etcd'],
  });

export const placementConfig = z
  .object({
    nodes: z.array(entityName).max(64).default([]),
    policy: z.enum(PLACEMENT_POLICIES).default('favored'),
    // Moves it home (as `ham relocate --to`) when its most favored node's key reappears.
    failback: z.boolean().default(false),
  })
  .strict()
  .refine((p) => p.policy !== 'restricted' || p.nodes.length > 0, { message: 'expected the nodes it is restricted to', path: ['nodes'] });

export interface ClusterNodeView {
  name: string;
  lease: string;
  self: boolean;
}

export interface PlacedView {
  name: string;
  policy: string;
  nodes: string[];
  /** Listed nodes no live node is named (they may join later). */
  unknownNodes: string[];
  owner: string | null;
  token: string | null;
  /**
   * Here: `running` where this node owns it, `elsewhere` where another does, `unplaced` where none does,
   * `stopped` (`ham stop NAME`: on every node, until `ham start NAME`), `gave-up` (every live node it may
   * run on gave up on it: until `ham reset NAME` on one).
   */
  state: 'running' | 'elsewhere' | 'unplaced' | 'stopped' | 'gave-up';
  since: string | null;
  /** The nodes whose recovery gave up on it (they take it again after `ham reset NAME` there). */
  gaveUp: string[];
  failback: boolean;
}

export interface ClusterView {
  node: string;
  etcd: string[];
  /** The TLS files apply read (their contents are what the node connects with), or null. */
  tls: { ca: string; cert: string | null } | null;
  prefix: string;
  ttlMs: number;
  /** Whether this node's last renewal was confirmed within the TTL. */
  connected: boolean;
  lease: string | null;
  lastRenewal: string | null;
  lastError: string | null;
  nodes: ClusterNodeView[];
  placed: PlacedView[];
}
