// GET /metrics: what the HAM already knows (its status, the figures it keeps,
// the detectors' views, the events it counted) as a Prometheus page. A pure
// function of its input, so the page is tested without a HAM.
import { DURATION_BUCKETS, type LatencySummary } from '../latency.js';
import type { StoreUse } from '../model/limits.js';
import type { ViewFigures } from '../protocol/view-source.js';
import type { ActionView, DetectorsView, StatusView } from '../protocol/views.js';
import { Exposition, type Labels } from './prom.js';

export interface MetricsInput {
  status: StatusView & { store: StoreUse };
  figures: ViewFigures;
  detectors: DetectorsView;
  /** Events in the log by entity and condition type. */
  events: Map<string, Map<string, number>>;
  /** Event-loop delay (ms) since the last page, or null when not sampled. */
  loopDelayMs: { p50: number; p99: number; max: number } | null;
}

const seconds = (ms: number | null): number => (ms === null ? NaN : ms / 1000);

function* actionRows(s: StatusView): Generator<[Labels, ActionView]> {
  const walk = function* (entity: string, condition: string, list: ActionView[], prefix: string): Generator<[Labels, ActionView]> {
    for (const a of list) {
      const action = prefix ? `${prefix}/${a.name}` : a.name;
      yield [{ entity, condition, action, kind: a.kind }, a];
      yield* walk(entity, condition, a.onFail, action);
    }
  };
  for (const e of s.entities) for (const c of e.conditions) yield* walk(e.name, c.name, c.actions, '');
  for (const c of s.global?.conditions ?? []) yield* walk('*', c.name, c.actions, '');
}

function conditions(s: StatusView): [string, StatusView['entities'][number]['conditions'][number]][] {
  return [
    ...s.entities.flatMap((e) => e.conditions.map((c) => [e.name, c] as [string, typeof c])),
    ...(s.global?.conditions ?? []).map((c) => ['*', c] as [string, typeof c]),
  ];
}

function quantiles(p: Exposition, name: string, help: string, q: LatencySummary | { p50: number; p99: number; max: number } | null): void {
  p.family(name, 'summary', help); // quantile labels belong to a summary (promtool refuses them on a gauge)
  if (!q) return;
  const rows: [string, number | null][] = [
    ['0.5', q.p50],
    ['0.99', q.p99],
    ['1', q.max],
  ];
  if ('p90' in q) rows.splice(1, 0, ['0.9', q.p90]);
  for (const [quantile, v] of rows) if (v !== null) p.sample(name, { quantile }, seconds(v));
}

export function metricsPage(m: MetricsInput): string {
  const { status: s, figures: f } = m;
  const p = new Exposition();
  p.rows('ham_epoch', 'gauge', 'The HAM role epoch: one more at each takeover.', [[{}, s.ham.epoch]]);
  p.rows('ham_takeovers_total', 'counter', 'Takeovers: a Guardian became the HAM because the HAM failed.', [[{}, s.ham.failures]]);
  p.rows('ham_guardian_replacements_total', 'counter', 'Guardians replaced because they failed.', [[{}, s.guardian.failures]]);
  p.rows('ham_last_event_seq', 'gauge', 'The sequence number of the latest event.', [[{}, s.lastSeq]]);
  const en = (name: string): Labels => ({ entity: name });
  p.rows(
    'ham_entity_up',
    'gauge',
    '1 while the entity has a running process.',
    s.entities.map((e) => [en(e.name), e.pid !== null && (e.state === 'running' || e.state === 'starting') ? 1 : 0]),
  );
  p.rows(
    'ham_entity_ready',
    'gauge',
    '1 while the entity runs and is ready.',
    s.entities.map((e) => [en(e.name), e.ready ? 1 : 0]),
  );
  p.rows(
    'ham_entity_failed',
    'gauge',
    '1 once the entity exceeded its restart intensity (until ham reset).',
    s.entities.map((e) => [en(e.name), e.state === 'failed' ? 1 : 0]),
  );
  p.rows(
    'ham_entity_restarts_total',
    'counter',
    'Restarts of the entity.',
    s.entities.map((e) => [en(e.name), e.restarts]),
  );
  p.rows(
    'ham_entity_deaths_total',
    'counter',
    'Deaths of the entity.',
    s.entities.map((e) => [en(e.name), e.deaths]),
  );
  p.rows(
    'ham_entity_heartbeat_missed_periods',
    'gauge',
    'Whole heartbeat periods since the last beat.',
    s.entities.flatMap((e) => (e.heartbeat ? [[en(e.name), e.heartbeat.missed] as [Labels, number]] : [])),
  );
  p.rows(
    'ham_entity_health_failures_total',
    'counter',
    'Failed health checks of the entity.',
    s.entities.flatMap((e) => (e.health ? [[en(e.name), e.health.failures] as [Labels, number]] : [])),
  );
  const cs = conditions(s);
  p.rows(
    'ham_condition_fired_total',
    'counter',
    'Times the condition fired.',
    cs.map(([entity, c]) => [{ entity, condition: c.name, type: c.type }, c.fired]),
  );
  p.rows(
    'ham_condition_failures_total',
    'counter',
    'Failed actions of the condition.',
    cs.map(([entity, c]) => [{ entity, condition: c.name, type: c.type }, c.failed]),
  );
  const actions = [...actionRows(s)];
  p.rows(
    'ham_action_runs_total',
    'counter',
    'Runs of the action.',
    actions.map(([l, a]) => [l, a.runs]),
  );
  p.rows(
    'ham_action_failures_total',
    'counter',
    'Failed runs of the action.',
    actions.map(([l, a]) => [l, a.failures]),
  );
  p.family('ham_action_duration_seconds', 'histogram', 'How long actions took, by kind (in this HAM process).');
  for (const [kind, h] of Object.entries(f.actionDurations).sort(([a], [b]) => a.localeCompare(b)))
    p.histogram('ham_action_duration_seconds', { kind }, DURATION_BUCKETS, h);
  quantiles(
    p,
    'ham_first_action_latency_seconds',
    'Occurrence seen to its first action started (recent, in this HAM process).',
    f.firstActionLatencyMs.count ? f.firstActionLatencyMs : null,
  );
  const events: [Labels, number][] = [];
  for (const [entity, byType] of [...m.events].sort(([a], [b]) => a.localeCompare(b)))
    for (const [condition, n] of [...byType].sort(([a], [b]) => a.localeCompare(b))) events.push([{ entity, condition }, n]);
  p.rows('ham_events_total', 'counter', 'Events in the log, by entity and condition type.', events);
  p.rows('ham_heartbeats_total', 'counter', 'Heartbeats received (this HAM process).', [[{}, f.beats]]);
  quantiles(
    p,
    'ham_heartbeat_lateness_seconds',
    'How late heartbeats came (recent, in this HAM process).',
    f.heartbeatLatenessMs.count ? f.heartbeatLatenessMs : null,
  );
  p.rows('ham_health_checks_total', 'counter', 'Health checks answered (this HAM process).', [
    [{ result: 'passed' }, f.healthChecks.passed],
    [{ result: 'failed' }, f.healthChecks.failed],
  ]);
  p.rows('ham_detector_checks_total', 'counter', 'Detector checks run (this HAM process).', [[{}, f.checksRun]]);
  const ds = m.detectors.detectors;
  p.rows(
    'ham_detector_runs_total',
    'counter',
    'Runs of the detector (this HAM process).',
    ds.map((d) => [{ detector: d.name }, d.runs]),
  );
  p.rows(
    'ham_detector_consecutive_failures',
    'gauge',
    'Failures of the detector in a row.',
    ds.map((d) => [{ detector: d.name }, d.failures]),
  );
  p.rows(
    'ham_detector_healthy',
    'gauge',
    '1 while the detector runs healthy.',
    ds.map((d) => [{ detector: d.name }, d.state === 'healthy' || d.state === 'running' ? 1 : 0]),
  );
  quantiles(p, 'ham_event_loop_delay_seconds', "The HAM's event-loop delay since the last scrape.", m.loopDelayMs);
  p.rows('ham_store_used_bytes', 'gauge', 'Bytes the store uses.', [[{}, s.store.usedBytes]]);
  p.rows('ham_store_limit_bytes', 'gauge', 'The store size limit.', [[{}, s.store.limitBytes]]);
  p.rows('ham_control_connections', 'gauge', 'Open control-socket connections.', [[{}, f.controlConnections]]);
  p.rows('process_resident_memory_bytes', 'gauge', 'Resident memory of the HAM process.', [[{}, f.rssBytes]]);
  p.rows('ham_heap_used_bytes', 'gauge', 'V8 heap in use in the HAM process.', [[{}, f.heapUsedBytes]]);
  return p.text();
}
