// What each request is answered with: the server's handlers must return it
// (protocol/server.ts) and the client's `request` returns it, so neither side
// casts. The views themselves are in views.ts.
import type { ClusterView } from './cluster.js';
import type { Op } from './requests.js';
import type { ActionView, Change, ConditionView, DetectorsView, EntityView, EventsPage, PairView, StatsView, StatusPage } from './views.js';

export interface Responses {
  ping: PairView & { pid: number; epoch: number };
  stats: StatsView;
  status: StatusPage;
  attach: EntityView;
  detach: { name: string; cluster?: string };
  /** A placed entity this node gave up on: what the cluster did (`cluster`), not an entity here. */
  reset: EntityView | { name: string; cluster: string };
  stop: { pid: number; stoppedEntities: boolean };
  /** Each entity as the request left it (`changed`: false when it already was so); a rolling restart's members it skipped, and why. */
  control: {
    request: 'stop' | 'start' | 'restart' | 'reload';
    group?: string;
    entities: (EntityView & { changed: boolean })[];
    skipped: { name: string; why: string }[];
    /** A placed entity's stop or start, cluster-wide: what was done (then `entities` is empty). */
    cluster?: string;
  };
  'condition-add': ConditionView;
  'condition-rm': { entity: string; condition: string };
  'action-add': ActionView;
  'action-rm': { entity: string; condition: string; action: string };
  enable: { entity: string; condition: string | undefined; action: string | undefined; enabled: boolean };
  raise: { seq: number };
  state: { seq: number };
  events: EventsPage;
  /** Events follow on the same id; `gap`: events after `since` were dropped from the log before they could be sent. */
  subscribe: { since: number; lastSeq?: number; gap?: boolean };
  apply: { dryRun: boolean; changes: Change[] };
  detectors: DetectorsView;
  'cluster-status': ClusterView;
  'cluster-relocate': { name: string; from: string; to: string | null };
  /** The saved value of the previous instance comes with it. */
  'self-attach': EntityView & { saved: unknown };
  'self-detach': { name: string };
  'health-reply': null;
  beat: null;
  store: { name: string };
  restore: { name: string; instance: number; value: unknown };
}

/** The answer to `op`. */
export type Reply<O extends Op> = Responses[O];

// Every op has an answer, and every answer an op: a request added to requests.ts without one here does not compile.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _everyOp: Same<keyof Responses, Op> = true;
void _everyOp;
