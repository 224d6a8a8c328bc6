// The pure parts of relocation (README "Cluster"): what a reconcile reads of the keys under the
// prefix, the order without the nodes that gave up, failback's home, and `cluster` conditions
// (their match and its checks). Starts no process.
import { describe, expect, it } from 'vitest';
import { failbackTo, withoutGaveUp } from '../../src/cluster/policy.js';
import { nodesBack, readSeen } from '../../src/cluster/seen.js';
import { matches, toConditionRecord } from '../../src/ham/conditions.js';
import { conditionBody, toConditionSpec } from '../../src/protocol/specs.js';
import type { Placement } from '../../src/model/cluster.js';

const kv = (value: string, lease = '0', revision = '1') => ({ value, lease, revision });

describe('what a reconcile reads', () => {
  it('definitions, owners, nodes, moves, gave-up marks and cluster-wide stops; keys not ours skipped', () => {
    const bad: string[] = [];
    const seen = readSeen(
      new Map([
        ['defs/db', kv(JSON.stringify({ config: {}, placement: { nodes: [], policy: 'favored', failback: false }, baseDir: '/' }))],
        ['defs/broken', kv('{')],
        ['owners/db', kv('a', '7', '42')],
        ['nodes/a', kv('{}', '7')],
        ['nodes/b', kv('{}', '8')],
        ['moves/db', kv(JSON.stringify({ from: 'a', to: 'b' }))],
        ['gaveup/db/a', kv('{}')],
        ['gaveup/db/b', kv('{}')],
        ['gaveup/db', kv('{}')],
        ['stopped/web', kv('{}')],
        ['owners/db/extra', kv('x')],
        ['other/thing', kv('x')],
      ]),
      (k) => bad.push(k),
    );
    expect([...seen.defs.keys()]).toEqual(['db']);
    expect(bad).toEqual(['defs/broken']);
    expect(seen.owners.get('db')).toEqual({ node: 'a', lease: '7', revision: '42' });
    expect([...seen.nodes]).toEqual([
      ['a', '7'],
      ['b', '8'],
    ]);
    expect(seen.moves.get('db')).toEqual({ from: 'a', to: 'b' });
    expect([...seen.gaveUp.get('db')!]).toEqual(['a', 'b']);
    expect([...seen.stopped]).toEqual(['web']);
  });

  it('nodes back: a key that appeared, or the same name under a new lease', () => {
    const before = readSeen(
      new Map([
        ['nodes/a', kv('', '1')],
        ['nodes/b', kv('', '2')],
      ]),
      () => undefined,
    );
    const now = readSeen(
      new Map([
        ['nodes/a', kv('', '1')],
        ['nodes/b', kv('', '3')],
        ['nodes/c', kv('', '4')],
      ]),
      () => undefined,
    );
    expect([...nodesBack(before, now)].sort()).toEqual(['b', 'c']);
    expect(nodesBack(now, now).size).toBe(0);
  });
});

describe('gave-up and failback', () => {
  const p = (failback: boolean): Placement => ({ nodes: ['a', 'b', 'c'], policy: 'favored', failback });

  it('the nodes that gave up race no more', () => {
    expect(withoutGaveUp(['a', 'b', 'c'], new Set(['a', 'c']))).toEqual(['b']);
    expect(withoutGaveUp(['a', 'b'], undefined)).toEqual(['a', 'b']);
  });

  it('failback: home is the first listed live node that did not give up, only when it is back', () => {
    expect(failbackTo(p(true), ['a', 'b', 'c'], undefined, 'b', new Set(['a']))).toBe('a');
    expect(failbackTo(p(false), ['a', 'b', 'c'], undefined, 'b', new Set(['a']))).toBe(null);
    expect(failbackTo(p(true), ['a', 'b', 'c'], undefined, 'b', new Set(['c']))).toBe(null); // not its home that came back
    expect(failbackTo(p(true), ['a', 'b', 'c'], new Set(['a']), 'b', new Set(['a']))).toBe(null); // a gave up: b is home
    expect(failbackTo(p(true), ['a', 'b', 'c'], new Set(['a']), 'c', new Set(['b']))).toBe('b');
    expect(failbackTo(p(true), ['a', 'b'], undefined, 'a', new Set(['a']))).toBe(null); // home already
  });
});

describe('cluster conditions', () => {
  const cond = (body: unknown) => toConditionRecord(toConditionSpec('c', conditionBody.parse(body)));
  const o = (event: 'gave-up' | 'placed') => ({ entity: '*', type: 'cluster' as const, cluster: { event, entity: 'db', node: 'a', token: '9' } });

  it('match.type names the event; without match every cluster event fires it', () => {
    expect(matches(cond({ type: 'cluster', match: { type: 'gave-up' } }), o('gave-up'))).toBe(true);
    expect(matches(cond({ type: 'cluster', match: { type: 'gave-up' } }), o('placed'))).toBe(false);
    expect(matches(cond({ type: 'cluster' }), o('placed'))).toBe(true);
    expect(matches(cond({ type: 'death' }), o('placed'))).toBe(false);
  });

  it('an unknown event, or class/severity, is refused with what was expected', () => {
    const bad = conditionBody.safeParse({ type: 'cluster', match: { type: 'exploded', severity: 2 } });
    expect(bad.success).toBe(false);
    const msgs = bad.success ? [] : bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(msgs).toContain('match.type: expected one of etcd-lost, etcd-back, placed, relocated, released, gave-up on a cluster condition, got "exploded"');
    expect(msgs).toContain('match.severity: expected only match.type on a cluster condition, got match.severity');
    expect(conditionBody.safeParse({ type: 'cluster', actions: [{ kind: 'restart' }] }).success).toBe(false);
  });
});
