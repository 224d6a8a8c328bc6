// An apply file with cluster parts, taken apart: the `cluster:` block, the placed entities
// (kept in etcd, run where they are owned) and the rest (applied here as without a cluster).
// Every part is checked before anything is kept: the placed entities through a dry run of
// the plain apply, so their fields get the same checks and messages.
import type { Issue } from '../errors.js';
import type { ClusterConfig, Placement } from '../model/cluster.js';
import { HamError } from '../model/errors.js';
import { clusterConfig, placementConfig } from '../protocol/cluster.js';
import { readTls } from './tls-files.js';
import { issuesError, pathText, zodIssues } from '../protocol/issues.js';
import type { Change } from '../protocol/views.js';
import { FENCE_SAFETY_MS, stopOf, type PlacedDef } from './def.js';
import type { ClusterPort } from './port.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface Split {
  cluster: ClusterConfig | undefined;
  placed: Map<string, PlacedDef>;
  plain: Record<string, unknown>;
  /** The plain part's changes and the placed ones', from the dry run. */
  changes: Change[];
  placedChanges: Change[];
}

export async function splitApply(config: unknown, port: ClusterPort, current: ClusterConfig | undefined): Promise<Split> {
  if (!isRecord(config)) return { cluster: undefined, placed: new Map(), plain: {}, changes: (await port.applyPlain({}, true)).changes, placedChanges: [] };
  const { cluster: rawCluster, ...rest } = config;
  const issues: Issue[] = [];
  let cluster: ClusterConfig | undefined;
  if (rawCluster !== undefined) {
    const c = clusterConfig.safeParse(rawCluster);
    if (!c.success) issues.push(...zodIssues(['cluster'], rawCluster, c.error));
    else {
      const { tls: files, ...plain } = c.data;
      // The files read now, once: their contents are what this node connects with (tls-files.ts).
      const r = files ? readTls(files, typeof rest.baseDir === 'string' ? rest.baseDir : process.cwd()) : { issues: [] };
      issues.push(...r.issues);
      if (!files) cluster = plain;
      else if (r.tls) cluster = { ...plain, tls: r.tls };
    }
  }
  const ttlMs = (cluster ?? current)?.ttlMs;
  const entities = isRecord(rest.entities) ? rest.entities : {};
  const plainEntities: Record<string, unknown> = {};
  const placedBodies: Record<string, unknown> = {};
  const placements = new Map<string, Placement>();
  for (const [name, body] of Object.entries(entities)) {
    if (!isRecord(body) || body.placement === undefined) {
      plainEntities[name] = body;
      continue;
    }
    const { placement, ...plainBody } = body;
    placedBodies[name] = plainBody;
    const p = placementConfig.safeParse(placement);
    if (!p.success) issues.push(...zodIssues(['entities', name, 'placement'], placement, p.error));
    else placements.set(name, p.data);
    if (port.perlKeeper)
      issues.push({
        path: pathText(['entities', name, 'placement']),
        expected: 'the C keeper (placed entities need its fencing deadline)',
        got: 'the Perl keeper',
      });
    const stop = stopOf({ config: plainBody, placement: p.success ? p.data : { nodes: [], policy: 'favored', failback: false }, baseDir: '' });
    if (ttlMs !== undefined && ttlMs < stop.timeoutMs + FENCE_SAFETY_MS + 1500)
      issues.push({
        path: pathText(['entities', name, 'stop', 'timeoutMs']),
        expected: `a stop timeout that ends well within the cluster's ttlMs (≤ ${ttlMs - FENCE_SAFETY_MS - 1500} ms): the entity must be stopped before its node's lease can expire`,
        got: String(stop.timeoutMs),
      });
  }
  if (placements.size > 0 && ttlMs === undefined)
    issues.push({ path: 'cluster', expected: 'a `cluster:` block (this node is in no cluster): placed entities need one', got: 'none' });
  // Every entity checked as the plain apply checks it: the placed ones too (as if they were local).
  let check;
  try {
    check = await port.applyPlain({ ...rest, entities: { ...plainEntities, ...placedBodies } }, true);
  } catch (e) {
    const he = HamError.from(e);
    if (issues.length === 0) throw he;
    const more = (he.issues ?? []) as Issue[];
    issues.push(...(more.length ? more : [{ path: '', expected: 'a valid file', got: he.message }]));
  }
  if (issues.length > 0) throw issuesError(issues, { max: 100, head: 'in the configuration' });
  const placed = new Map<string, PlacedDef>();
  const baseDir = typeof rest.baseDir === 'string' ? rest.baseDir : process.cwd();
  for (const [name, placement] of placements) placed.set(name, { config: placedBodies[name] as Record<string, unknown>, placement, baseDir });
  const changes = (check?.changes ?? []).filter((c) => !placed.has(c.entity));
  const placedChanges: Change[] = [...placed.keys()].map((entity) => ({
    entity,
    change: 'updated',
    details: ['placed: kept in the cluster, run on its owner node'],
  }));
  return { cluster, placed, plain: { ...rest, entities: plainEntities }, changes: [...changes, ...placedChanges], placedChanges };
}
