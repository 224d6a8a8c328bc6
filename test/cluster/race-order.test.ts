// The race orders of free placed entities (src/cluster/race-order.ts): entities freed at once
// split over the live nodes by what each already owns or ranks first for. Starts no process.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { candidateOrder } from '../../src/cluster/placed.js';
import { raceOrders, type Unowned } from '../../src/cluster/race-order.js';
import type { Placement } from '../../src/model/cluster.js';

const balanced: Placement = { nodes: [], policy: 'balanced', failback: false };
const free = (n: number, placement = balanced): Unowned[] => Array.from({ length: n }, (_, i) => ({ name: `e${String(i).padStart(3, '0')}`, placement }));
const firsts = (orders: Map<string, string[]>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const o of orders.values()) if (o[0]) out[o[0]] = (out[o[0]] ?? 0) + 1;
  return out;
};

describe('race orders', () => {
  it('17 balanced entities freed at once split 9/8 over two equal survivors (not 17/0)', () => {
    const orders = raceOrders(free(17), ['b', 'c'], [...Array(33).fill('b'), ...Array(33).fill('c')]);
    expect(firsts(orders)).toEqual({ b: 9, c: 8 });
    // Each order still holds every live node once: a node that fails its race leaves it to the next.
    for (const o of orders.values()) expect([...o].sort()).toEqual(['b', 'c']);
  });

  it('the freed share fills the lighter survivor first, then splits', () => {
    const orders = raceOrders(free(10), ['b', 'c'], [...Array(40).fill('b'), ...Array(36).fill('c')]);
    expect(firsts(orders)).toEqual({ b: 3, c: 7 }); // 43 and 43 in the end
  });

  it('favored entities keep their favored node first, and count there for the balanced ones after them', () => {
    const fav: Placement = { nodes: ['c'], policy: 'favored', failback: false };
    const orders = raceOrders([...free(3, fav).map((u) => ({ ...u, name: `a${u.name}` })), ...free(3)], ['b', 'c'], []);
    expect([...orders].filter(([n]) => n.startsWith('a')).map(([, o]) => o[0])).toEqual(['c', 'c', 'c']);
    expect([...orders].filter(([n]) => !n.startsWith('a')).map(([, o]) => o[0])).toEqual(['b', 'b', 'b']);
  });

  it('the same view gives the same orders, whatever order the entities come in (every node computes alike)', () => {
    const a = raceOrders(free(20), ['a', 'b', 'c'], ['a']);
    const b = raceOrders(free(20).reverse(), ['a', 'b', 'c'], ['a']);
    expect([...b].sort()).toEqual([...a].sort());
  });

  it('a move: the node asked for first, the node it leaves out', () => {
    const orders = raceOrders([{ name: 'db', placement: balanced, move: { from: 'a', to: 'c' } }], ['a', 'b', 'c'], []);
    expect(orders.get('db')).toEqual(['c', 'b']);
  });

  it('every entity: its policy candidates, each once; balanced firsts never differ by more than one from an even start', () => {
    const name = fc.constantFrom<string>('a', 'b', 'c', 'd');
    fc.assert(
      fc.property(fc.uniqueArray(name, { minLength: 1 }), fc.integer({ min: 0, max: 40 }), (live, n) => {
        const orders = raceOrders(free(n), live, []);
        for (const o of orders.values()) expect([...o].sort()).toEqual([...candidateOrder(balanced, live, [])].sort());
        const counts = live.map((l) => firsts(orders)[l] ?? 0);
        expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
      }),
    );
  });
});
