// The chaos campaign of `npm run chaos` (bench/chaos.ts), a few rounds of it:
// one of each blow that ends in a takeover or a replacement (HAM, Guardian,
// both, keeper, entity) and a pause of the whole pair (no takeover), some
// during an apply, with every invariant checked.
import { describe, expect, it } from 'vitest';
import { runChaos, summary } from '../../bench/chaos.js';

const ROUNDS = Number(process.env.HAM_CHAOS_CAMPAIGN_ROUNDS ?? 7);
const SEED = Number(process.env.HAM_CHAOS_SEED ?? 7);

describe('chaos campaign (npm run chaos)', () => {
  it(`${ROUNDS} rounds: no violation, and the summary counts them`, async () => {
    const r = await runChaos({
      rounds: ROUNDS,
      seed: SEED,
      hangMs: 2000,
      cover: true,
      kinds: ['ham-kill', 'ham-stop', 'guardian-kill', 'both-kill', 'keeper-kill', 'entity-kill', 'both-stop'],
    });
    expect(r.violations, summary(r)).toEqual([]);
    expect(r.rounds).toBe(ROUNDS);
    expect(Object.values(r.kinds).reduce((a, b) => a + b, 0)).toBe(ROUNDS);
    // Every HAM kill or hang, and every kill of both, is one takeover; nothing else is.
    const caused = Object.entries(r.kinds)
      .filter(([k]) => k.startsWith('ham-') || k.startsWith('both-kill'))
      .reduce((n, [, c]) => n + c, 0);
    expect(r.takeovers).toBe(caused);
    expect(caused).toBeGreaterThan(0);
    expect(summary(r)).toContain(`${ROUNDS} rounds`);
  }, 300_000);
});
