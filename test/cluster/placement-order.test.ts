// The pure parts of placement (README "Cluster"): the policies' candidate order and the
// `cluster:` / `placement:` schemas. Starts no process.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { candidateOrder, moveOrder } from '../../src/cluster/placed.js';
import { clusterConfig, placementConfig } from '../../src/protocol/cluster.js';

describe('candidate order', () => {
  it('favored: the listed live nodes in their order, then the other live nodes by name', () => {
    expect(candidateOrder({ nodes: ['c', 'a'], policy: 'favored', failback: false }, ['a', 'b', 'c', 'd'], [])).toEqual(['c', 'a', 'b', 'd']);
    expect(candidateOrder({ nodes: ['x', 'a'], policy: 'favored', failback: false }, ['b', 'a'], [])).toEqual(['a', 'b']);
  });

  it('restricted: only the listed live nodes', () => {
    expect(candidateOrder({ nodes: ['c', 'a', 'gone'], policy: 'restricted', failback: false }, ['a', 'b', 'c'], [])).toEqual(['c', 'a']);
  });

  it('balanced: fewest placed entities first, the list order breaking ties', () => {
    expect(candidateOrder({ nodes: ['a', 'b', 'c'], policy: 'balanced', failback: false }, ['a', 'b', 'c'], ['a', 'a', 'b'])).toEqual(['c', 'b', 'a']);
    expect(candidateOrder({ nodes: ['a', 'b'], policy: 'balanced', failback: false }, ['a', 'b'], [])).toEqual(['a', 'b']);
  });

  it('every policy: each live candidate once, none that is not live, restricted within the list', () => {
    const name = fc.constantFrom<string>('a', 'b', 'c', 'd', 'e');
    fc.assert(
      fc.property(
        fc.uniqueArray(name),
        fc.uniqueArray(name),
        fc.array(name),
        fc.constantFrom('favored' as const, 'balanced' as const, 'restricted' as const),
        (nodes, live, owners, policy) => {
          const out = candidateOrder({ nodes, policy, failback: false }, live, owners);
          expect(new Set(out).size).toBe(out.length);
          expect(out.every((n) => live.includes(n))).toBe(true);
          if (policy === 'restricted') expect(out.every((n) => nodes.includes(n))).toBe(true);
          else expect(out.length).toBe(live.length);
        },
      ),
    );
  });
});

describe('move order (ham relocate)', () => {
  it('the node asked for first; the node it leaves not at all, unless it is the only one', () => {
    expect(moveOrder(['a', 'b', 'c'], { from: 'a', to: null })).toEqual(['b', 'c']);
    expect(moveOrder(['a', 'b', 'c'], { from: 'a', to: 'c' })).toEqual(['c', 'b']);
    expect(moveOrder(['a'], { from: 'a', to: null })).toEqual(['a']);
    expect(moveOrder(['a', 'b'], { from: 'a', to: 'gone' })).toEqual(['b']);
  });
});

describe('schemas', () => {
  it('a cluster block gets its defaults; bad fields are named', () => {
    expect(clusterConfig.parse({ etcd: ['http://127.0.0.1:2379'], node: 'n1' })).toEqual({
      etcd: ['http://127.0.0.1:2379'],
      node: 'n1',
      ttlMs: 10_000,
      prefix: '/ham/',
    });
    const bad = clusterConfig.safeParse({ etcd: [], node: 'a/b', ttlMs: 100, prefix: 'x', extra: 1 });
    expect(bad.success).toBe(false);
    const paths = bad.success ? [] : bad.error.issues.map((i) => i.path.join('.') || i.code);
    expect(paths).toEqual(expect.arrayContaining(['etcd', 'node', 'ttlMs', 'prefix', 'unrecognized_keys']));
  });

  it('a placement: restricted needs nodes; failback is a boolean', () => {
    expect(placementConfig.parse({ nodes: ['a'] })).toEqual({ nodes: ['a'], policy: 'favored', failback: false });
    expect(placementConfig.safeParse({ policy: 'restricted' }).success).toBe(false);
    expect(placementConfig.parse({ nodes: ['a'], failback: true }).failback).toBe(true);
    const fb = placementConfig.safeParse({ nodes: ['a'], failback: 'yes' });
    expect(fb.success ? '' : fb.error.issues[0]!.path.join('.')).toBe('failback');
  });
});
