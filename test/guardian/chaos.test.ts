// Chaos: round after round, kill the HAM or the Guardian with SIGKILL, SIGTERM
// or SIGSTOP, sometimes killing an entity at the same moment, and check the
// invariants after every round: one HAM, one Guardian, epoch strictly rising
// on HAM failures, every entity alive exactly once, its pid unchanged unless
// it was killed, and every death recorded with the right exit status.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusView } from '../../src/protocol/views.js';
import { startTime } from '../../src/proc/procfs.js';
import { entity, exitNow, exiter, pairOf } from '../helpers/entities.js';
import { daemons, hamJson, keepersWith, procsWith, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

const ROUNDS = Number(process.env.HAM_CHAOS_ROUNDS ?? 36);
const NAMES = ['alpha', 'beta', 'gamma'];
const TARGETS = ['ham', 'guardian'] as const;
const SIGNALS = ['SIGKILL', 'SIGTERM', 'SIGSTOP'] as const;

type Victim = { name: string; how: 'SIGKILL' | 'exit 7' };

/** A deterministic plan covering every target × signal, with and without an entity death. */
function plan(round: number): { target: (typeof TARGETS)[number]; sig: (typeof SIGNALS)[number]; victim: Victim | null } {
  const target = TARGETS[round % 2]!;
  const sig = SIGNALS[Math.floor(round / 2) % 3]!;
  const withVictim = Math.floor(round / 6) % 2 === 1;
  const victim: Victim | null = withVictim ? { name: NAMES[round % 3]!, how: round % 4 < 2 ? 'SIGKILL' : 'exit 7' } : null;
  return { target, sig, victim };
}

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  // 2 s: SIGSTOP rounds still test hangs, and a stall of a busy machine is not mistaken for one.
  await hamJson(t.home, ['start', '--hang-ms', '2000']);
  for (const n of NAMES) await hamJson(t.home, ['attach', n, '--restart', '--', ...exiter(`${t.home}/${n}`, 7)]);
});
afterAll((suite) => t.cleanup({ task: suite }));

describe(`chaos: ${ROUNDS} rounds of killing the HAM or the Guardian`, () => {
  it('keeps exactly one pair, every entity exactly once, and every exit status', async () => {
    let prev: StatusView = await waitStatus(
      t.home,
      'all entities running',
      (s) => s.entities.length === NAMES.length && s.entities.every((e) => e.state === 'running'),
    );
    for (let round = 0; round < ROUNDS; round++) {
      const { target, sig, victim } = plan(round);
      const targetPid = target === 'ham' ? prev.ham.pid! : prev.guardian.pid!;
      const victimPid = victim ? entity(prev, victim.name).pid! : 0;

      process.kill(targetPid, sig);
      if (victim?.how === 'SIGKILL') process.kill(victimPid, 'SIGKILL');
      else if (victim) await exitNow(`${t.home}/${victim.name}`, victimPid);

      const ctx = `round ${round}: ${target} ${sig}${victim ? ` + ${victim.name} ${victim.how}` : ''}`;
      const now = await waitStatus(
        t.home,
        ctx,
        (s) => {
          const p = pairOf(s);
          if (!p || startTime(targetPid) !== undefined) return false;
          if (startTime(p.ham) === undefined || startTime(p.guardian) === undefined) return false;
          if (target === 'ham' && s.ham.pid === prev.ham.pid) return false;
          if (target === 'guardian' && s.guardian.pid === prev.guardian.pid) return false;
          if (victim && entity(s, victim.name).restarts !== entity(prev, victim.name).restarts + 1) return false;
          return s.entities.every((e) => e.state === 'running');
        },
        30_000,
      );

      // Exactly one HAM and one Guardian, and they are who the store says.
      expect(daemons(t.home).sort(), ctx).toEqual([now.ham.pid, now.guardian.pid].sort());
      if (target === 'ham') {
        expect(now.ham.epoch, ctx).toBeGreaterThan(prev.ham.epoch);
        expect(now.ham.failures, ctx).toBe(prev.ham.failures + 1);
        expect(now.ham.pid, ctx).toBe(prev.guardian.pid);
      } else {
        expect(now.ham.epoch, ctx).toBe(prev.ham.epoch);
        expect(now.ham.pid, ctx).toBe(prev.ham.pid);
        expect(now.guardian.failures, ctx).toBe(prev.guardian.failures + 1);
      }

      for (const n of NAMES) {
        const was = entity(prev, n);
        const is = entity(now, n);
        // Alive exactly once, with exactly one keeper, and it is the pid the store has.
        expect(procsWith(`${t.home}/${n}`), `${ctx}: ${n} processes`).toEqual([is.pid]);
        expect(keepersWith(`${t.home}/${n}`), `${ctx}: ${n} keepers`).toHaveLength(1);
        if (victim?.name === n) {
          expect(is.pid, ctx).not.toBe(was.pid);
          expect(is.deaths, ctx).toBe(was.deaths + 1);
          expect(is.restarts, ctx).toBe(was.restarts + 1);
          expect(is.lastExit, ctx).toEqual(victim.how === 'SIGKILL' ? { code: null, signal: 'SIGKILL' } : { code: 7, signal: null });
        } else {
          expect(is.pid, `${ctx}: ${n} must not be restarted`).toBe(was.pid);
          expect(is.restarts, ctx).toBe(was.restarts);
          expect(is.deaths, ctx).toBe(was.deaths);
        }
      }
      prev = now;
    }
    const final = await status(t.home);
    expect(final.ham.failures + final.guardian.failures).toBe(ROUNDS);
    expect(final.entities.reduce((n, e) => n + e.restarts, 0)).toBe(Array.from({ length: ROUNDS }, (_, r) => plan(r)).filter((p) => p.victim).length);
  }, 600_000);
});
