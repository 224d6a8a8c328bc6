// The /metrics page as a pure function: escaping, histogram buckets, and that
// every page it writes is valid exposition format (a strict reader: promtool's rules).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { metricsPage, type MetricsInput } from '../../src/http/metrics.js';
import { escapeHelp, escapeLabelValue, Exposition, formatValue } from '../../src/http/prom.js';
import { DURATION_BUCKETS, Durations } from '../../src/latency.js';
import type { EntityView } from '../../src/protocol/views.js';
import { parseExposition, valueOf } from '../helpers/prom-parse.js';

const summary = { count: 0, p50: null, p90: null, p99: null, max: null };

function input(entities: Partial<EntityView>[], over: Partial<MetricsInput> = {}): MetricsInput {
  return {
    status: {
      ham: { pid: 10, epoch: 3, failures: 2 },
      guardian: { pid: 11, failures: 1 },
      entities: entities.map(
        (e) => ({ pid: 5, state: 'running', ready: true, restarts: 0, deaths: 0, heartbeat: null, health: null, conditions: [], ...e }) as EntityView,
      ),
      global: null,
      lastSeq: 42,
      store: { usedBytes: 1000, limitBytes: 2000, userLimitBytes: 1500 },
    },
    figures: {
      beats: 7,
      healthChecks: { passed: 1, failed: 0 },
      checksRun: 4,
      firstActionLatencyMs: { count: 3, p50: 1, p90: 2, p99: 3, max: 4 },
      heartbeatLatenessMs: summary,
      actionDurations: {},
      rssBytes: 123,
      heapUsedBytes: 45,
      controlConnections: 1,
    },
    detectors: { dir: '/d', refused: null, detectors: [] },
    events: new Map(),
    loopDelayMs: null,
    ...over,
  };
}

describe('escaping', () => {
  it('escapes backslash, double quote and line feed in label values, and backslash and line feed in help', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('a\\b"c\nd')).toBe('a\\\\b"c\\nd');
    expect([NaN, Infinity, -Infinity, 1.5].map(formatValue)).toEqual(['NaN', '+Inf', '-Inf', '1.5']);
  });

  it('any label value reads back as it was written', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 40 }), (v, help) => {
        const page = new Exposition().rows('m_total', 'counter', help, [[{ entity: v }, 1]]).text();
        const got = parseExposition(page).get('m_total')!;
        expect(got.samples[0]!.labels.entity).toBe(v);
      }),
    );
  });

  it('refuses metric and label names the format does not allow', () => {
    expect(() => new Exposition().family('bad-name', 'gauge', '')).toThrow(/metric name/);
    expect(() => new Exposition().family('ok', 'gauge', '').sample('ok', { 'a-b': 'x' }, 1)).toThrow(/label name/);
  });
});

describe('histograms', () => {
  it('counts each duration in the first bucket it fits (le is inclusive), written cumulative with +Inf = count', () => {
    const d = new Durations();
    for (const s of [0.001, 0.002, 0.5, 0.5000001, 100]) d.observe('execute', s);
    d.observe('signal', 0);
    const page = metricsPage(input([], { figures: { ...input([]).figures, actionDurations: d.snapshot() } }));
    const f = parseExposition(page);
    const le = (kind: string, b: string): number | undefined => valueOf(f, 'ham_action_duration_seconds_bucket', { kind, le: b });
    expect(le('execute', '0.001')).toBe(1);
    expect(le('execute', '0.005')).toBe(2);
    expect(le('execute', '0.5')).toBe(3);
    expect(le('execute', '1')).toBe(4);
    expect(le('execute', '60')).toBe(4);
    expect(le('execute', '+Inf')).toBe(5);
    expect(valueOf(f, 'ham_action_duration_seconds_count', { kind: 'execute' })).toBe(5);
    expect(valueOf(f, 'ham_action_duration_seconds_sum', { kind: 'execute' })).toBeCloseTo(101.0030001, 6);
    expect(le('signal', '0.001')).toBe(1);
    expect(f.get('ham_action_duration_seconds')!.samples.filter((s) => s.labels.kind === 'execute')).toHaveLength(DURATION_BUCKETS.length + 3);
  });

  it('any set of durations makes a valid histogram', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1000, noNaN: true }), { maxLength: 50 }), (xs) => {
        const d = new Durations();
        for (const x of xs) d.observe('k', x);
        const h = d.snapshot().k ?? { counts: [], sum: 0, count: 0 };
        parseExposition(new Exposition().family('h', 'histogram', '').histogram('h', { kind: 'k' }, DURATION_BUCKETS, h).text());
      }),
    );
  });
});

describe('metricsPage', () => {
  it('is valid exposition format and carries the status, the figures and the event counts', () => {
    const cond = {
      name: 'on "death"\n',
      type: 'death',
      fired: 3,
      failed: 1,
      actions: [{ name: 'restart', kind: 'restart', runs: 3, failures: 1, onFail: [] }],
    };
    const page = metricsPage(
      input(
        [
          { name: 'web', restarts: 4, deaths: 5, conditions: [cond as never] },
          { name: 'db\\x', pid: null, state: 'dead', ready: false },
        ],
        { events: new Map([['web', new Map([['death', 5]])]]), loopDelayMs: { p50: 1, p99: 20, max: 30 } },
      ),
    );
    const f = parseExposition(page);
    expect(valueOf(f, 'ham_epoch')).toBe(3);
    expect(valueOf(f, 'ham_takeovers_total')).toBe(2);
    expect(valueOf(f, 'ham_entity_up', { entity: 'web' })).toBe(1);
    expect(valueOf(f, 'ham_entity_up', { entity: 'db\\x' })).toBe(0);
    expect(valueOf(f, 'ham_entity_ready', { entity: 'db\\x' })).toBe(0);
    expect(valueOf(f, 'ham_entity_restarts_total', { entity: 'web' })).toBe(4);
    expect(valueOf(f, 'ham_entity_deaths_total', { entity: 'web' })).toBe(5);
    expect(valueOf(f, 'ham_condition_fired_total', { entity: 'web', condition: 'on "death"\n', type: 'death' })).toBe(3);
    expect(valueOf(f, 'ham_action_failures_total', { entity: 'web', condition: 'on "death"\n', action: 'restart', kind: 'restart' })).toBe(1);
    expect(valueOf(f, 'ham_events_total', { entity: 'web', condition: 'death' })).toBe(5);
    expect(valueOf(f, 'ham_event_loop_delay_seconds', { quantile: '0.99' })).toBe(0.02);
    expect(valueOf(f, 'ham_first_action_latency_seconds', { quantile: '0.9' })).toBe(0.002);
    expect(valueOf(f, 'ham_store_used_bytes')).toBe(1000);
    for (const name of [
      'ham_entity_up',
      'ham_entity_ready',
      'ham_entity_restarts_total',
      'ham_condition_fired_total',
      'ham_action_failures_total',
      'ham_events_total',
    ])
      expect(f.get(name)?.help, name).not.toBe('');
  });
});

describe('the strict reader (what the test checks pages with) refuses what promtool refuses', () => {
  it.each([
    ['an unescaped quote', '# TYPE m gauge\nm{a="x"y"} 1\n'],
    ['a series twice', '# TYPE m gauge\nm{a="x"} 1\nm{a="x"} 2\n'],
    ['a family split', '# TYPE m gauge\nm 1\n# TYPE n gauge\nn 1\nm{a="b"} 2\n'],
    ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['a negative counter', '# TYPE c_total counter\nc_total -1\n'],
    ['a bad value', '# TYPE m gauge\nm one\n'],
    ['no final line feed', '# TYPE m gauge\nm 1'],
  ])('%s', (_what, page) => {
    expect(() => parseExposition(page)).toThrow();
  });
});
