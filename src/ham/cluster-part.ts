// The HAM's door to the cluster runtime (src/cluster, handed in by the daemon as a loader):
// loaded, with etcd3 and gRPC, only by a HAM whose store is in a cluster or that applies a
// file with cluster parts. Every other HAM, the Guardian and the CLI never load it.
import { HamError } from '../errors.js';
import type { HomePaths } from '../home.js';
import type { Logger } from '../log.js';
import type { ClusterView } from '../protocol/cluster.js';
import type { Change } from '../protocol/views.js';
import type { Store } from '../store/store.js';
import type { Supervisor } from './supervisor.js';

export interface ApplyReply {
  dryRun: boolean;
  changes: Change[];
}

/** What the cluster runtime is handed of the HAM. */
export interface ClusterPort {
  store: Store;
  supervisor: Supervisor;
  paths: HomePaths;
  epoch: number;
  log: Logger;
  /** `ham apply` of a file with no cluster parts, as it runs without a cluster. */
  applyPlain(config: Record<string, unknown>, dryRun: boolean): Promise<ApplyReply>;
  /** The Perl fallback keeper cannot fence: it keeps no placed entity. */
  perlKeeper: boolean;
}

export interface ClusterPart {
  apply(config: unknown, dryRun: boolean): Promise<ApplyReply>;
  status(): ClusterView;
  relocate(name: string, to: string | undefined): Promise<{ name: string; from: string; to: string | null }>;
  /** `ham stop|start NAME` of a placed entity (cluster-wide): what was done, or undefined for a local request. */
  control(request: string, name: string, wait: boolean): Promise<string | undefined>;
  /** `ham reset NAME` on a node that gave up on a placed entity: what was done, or undefined for a local reset. */
  reset(name: string): Promise<string | undefined>;
  /** `ham detach NAME` of a placed entity: removed from the cluster; undefined for a local detach. */
  detach(name: string): Promise<string | undefined>;
  close(): void;
}

export type ClusterLoader = (port: ClusterPort) => Promise<ClusterPart>;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const hasPlacement = (c: Record<string, unknown>): boolean =>
  isRecord(c.entities) && Object.values(c.entities).some((e) => isRecord(e) && e.placement !== undefined);

export function clusterHooks(load: ClusterLoader | undefined, port: ClusterPort) {
  let part: Promise<ClusterPart> | undefined;
  const get = (): Promise<ClusterPart> => (part ??= load!(port));
  return {
    /** Once the HAM serves and its entities are resumed: a node in a cluster continues its membership. */
    resume: (): void => {
      if (load && port.store.cluster()) void get().catch((e: Error) => port.log('error', 'cluster: the runtime could not be loaded', { error: e.message }));
    },
    /** Does this apply go through the cluster runtime? Not a plain file on a node in no cluster,
     *  even with the runtime loaded (by a failed join or a dry run). */
    wants: (config: unknown): boolean =>
      load !== undefined &&
      ((part !== undefined && port.store.cluster() !== undefined) || (isRecord(config) && (config.cluster !== undefined || hasPlacement(config)))),
    apply: async (config: unknown, dryRun: boolean): Promise<ApplyReply> => {
      // Placed entities on a node in no cluster: refused without loading the etcd client for nothing.
      if (!part && !port.store.cluster() && isRecord(config) && config.cluster === undefined)
        throw new HamError({
          code: 'not-in-cluster',
          message: 'expected a `cluster:` block with placed entities: this node is in no cluster; nothing was applied',
        });
      return get().then((p) => p.apply(config, dryRun));
    },
    status: async (): Promise<ClusterView> => {
      if (!part) throw new HamError({ code: 'not-in-cluster', message: 'this node is in no cluster: expected a `cluster:` block in an applied file' });
      return (await part).status();
    },
    relocate: async (name: string, to: string | undefined): Promise<{ name: string; from: string; to: string | null }> => {
      if (!part) throw new HamError({ code: 'not-in-cluster', message: 'this node is in no cluster: expected a `cluster:` block in an applied file' });
      return (await part).relocate(name, to);
    },
    control: async (request: string, name: string, wait: boolean): Promise<string | undefined> =>
      part ? (await part).control(request, name, wait) : undefined,
    reset: async (name: string): Promise<string | undefined> => (part ? (await part).reset(name) : undefined),
    detach: async (name: string): Promise<string | undefined> => (part ? (await part).detach(name) : undefined),
    close: (): void => void part?.then((p) => p.close()).catch(() => undefined),
  };
}
