// `ham top`'s screen as a pure function: it fits any window, sorts, shows
// readiness and escapes what entities wrote.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renderFrame, type TopModel, type TopRow } from '../../src/cli/top-frame.js';
import type { EntityView } from '../../src/protocol/views.js';

function row(name: string, over: Partial<EntityView> = {}, usage: Partial<TopRow['usage']> = {}, cpu?: number): TopRow {
  const entity = { name, kind: 'spawned', state: 'running', pid: 100, restarts: 0, readiness: null, ready: false, ...over } as EntityView;
  return { entity, usage: { uptimeMs: null, cpuMs: null, rssBytes: null, ...usage }, cpuPercent: cpu };
}

const model = (rows: TopRow[], events: string[] = []): TopModel => ({
  home: '/tmp/h',
  status: { ham: { pid: 1, epoch: 3, failures: 0 }, guardian: { pid: 2, failures: 0 } },
  rows,
  events,
  sort: 'name',
  time: '01:02:03',
  keys: true,
});

describe('ham top: the screen', () => {
  it('every line fits the window, whatever its size and content', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9.-]{0,60}$/);
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 40 }),
        fc.array(fc.string({ maxLength: 300 }), { maxLength: 30 }),
        fc.integer({ min: 20, max: 300 }),
        fc.integer({ min: 6, max: 80 }),
        (names, events, cols, rows) => {
          const f = renderFrame(
            model(
              names.map((n) => row(n, {}, { rssBytes: 123456789, uptimeMs: 9e8 }, 12.5)),
              events,
            ),
            cols,
            rows,
          );
          expect(f.lines.length).toBeLessThanOrEqual(rows);
          for (const l of f.lines) expect(l.length).toBeLessThanOrEqual(cols);
        },
      ),
    );
  });

  it('a short window says how many rows it could not show', () => {
    const rows = Array.from({ length: 50 }, (_, i) => row(`e${String(i).padStart(2, '0')}`));
    const f = renderFrame(model(rows), 120, 20);
    expect(f.lines.some((l) => /… and \d+ more/.test(l))).toBe(true);
    expect(f.lines[f.heading]).toMatch(/^NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+CPU%\s+RSS\s+READY$/);
  });

  it('sorts by CPU, memory, restarts or uptime, largest first', () => {
    const rows = [
      row('a', { restarts: 1 }, { rssBytes: 10, uptimeMs: 5 }, 1),
      row('b', { restarts: 3 }, { rssBytes: 30, uptimeMs: 1 }, 50),
      row('c', {}, { rssBytes: 20, uptimeMs: 9 }),
    ];
    const order = (sort: TopModel['sort']): string[] =>
      renderFrame({ ...model(rows), sort }, Infinity, Infinity)
        .lines.filter((l) => /^[abc] /.test(l))
        .map((l) => l[0]!);
    expect(order('name')).toEqual(['a', 'b', 'c']);
    expect(order('cpu')).toEqual(['b', 'a', 'c']);
    expect(order('rss')).toEqual(['b', 'c', 'a']);
    expect(order('restarts')).toEqual(['b', 'a', 'c']);
    expect(order('uptime')).toEqual(['c', 'a', 'b']);
  });

  it('shows readiness, and control characters in events as escapes', () => {
    const f = renderFrame(model([row('w', { readiness: {} as EntityView['readiness'], ready: true })], ['#1 x \x1b[31m']), Infinity, Infinity);
    expect(f.lines.find((l) => l.startsWith('w '))).toMatch(/ready$/);
    expect(f.lines.join('\n')).not.toContain('\x1b');
  });
});
