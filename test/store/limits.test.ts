// The store's bounds as pure logic: saved states, user-driven growth, events.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HamError } from '../../src/errors.js';
import { encodedSize } from '../../src/protocol/frame.js';
import { boundEvent, checkSaved, EVENT_DETAIL_MAX, EVENT_FIRED_MAX, refuseGrowth, storeUse } from '../../src/store/limits.js';
import { checkLimitSettings, STORE_MAX_MIN } from '../../src/model/limits.js';
import { DEFAULT_SETTINGS } from '../../src/model/defaults.js';

const settings = { ...DEFAULT_SETTINGS, storeMaxBytes: 64 * 1024 * 1024, savedMaxBytes: 1000 };

function thrown(fn: () => unknown): HamError {
  try {
    fn();
  } catch (e) {
    return e as HamError;
  }
  throw new Error('expected a throw');
}

describe('store limits', () => {
  it('a saved state over savedMaxBytes is too-large, naming its size and the limit', () => {
    expect(checkSaved('svc', 'x'.repeat(900), settings)).toBe(encodedSize('x'.repeat(900)));
    const e = thrown(() => checkSaved('svc', 'x'.repeat(2000), settings));
    expect(e.code).toBe('too-large');
    expect(e.entity).toBe('svc');
    expect(e.message).toContain(`is ${encodedSize('x'.repeat(2000))} bytes encoded, at most 1000 allowed`);
    expect(e.message).toContain('the previous value is kept');
  });

  it('user-driven growth stops at 75% of the limit, with store-full naming use and limit', () => {
    const use = storeUse(40 * 1024 * 1024, settings);
    expect(use.userLimitBytes).toBe(48 * 1024 * 1024);
    expect(() => refuseGrowth(use, 'apply', 1024)).not.toThrow();
    const e = thrown(() => refuseGrowth(use, 'apply', 9 * 1024 * 1024));
    expect(e.code).toBe('store-full');
    expect(e.message).toMatch(/^apply: the store is full: 40\.0 MiB in use and 9\.0 MiB more asked, at most 48\.0 MiB .* 64\.0 MiB/);
    expect(thrown(() => refuseGrowth(storeUse(49 * 1024 * 1024, settings), 'attach')).code).toBe('store-full');
  });

  it('every event is bounded: detail and fired list cut, the rest counted', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 5000 }), fc.nat({ max: 200 }), (detail, n) => {
        const fired = Array.from({ length: n }, (_, i) => ({ owner: 'o', condition: `c${i}` }));
        const e = boundEvent({ entity: 'web', type: 'raise' as const, time: 0, fired, detail });
        expect(e.detail!.length).toBeLessThanOrEqual(EVENT_DETAIL_MAX);
        expect(e.fired.length).toBe(Math.min(n, EVENT_FIRED_MAX));
        expect((e as { firedMore?: number }).firedMore).toBe(n > EVENT_FIRED_MAX ? n - EVENT_FIRED_MAX : undefined);
        if (detail.length <= EVENT_DETAIL_MAX) expect(e.detail).toBe(detail);
      }),
    );
  });

  it('limit settings are checked', () => {
    expect(checkLimitSettings(DEFAULT_SETTINGS)).toBeUndefined();
    expect(checkLimitSettings({ storeMaxBytes: STORE_MAX_MIN - 1, savedMaxBytes: 10 })).toMatch(/store-max-bytes: expected an integer of at least/);
    expect(checkLimitSettings({ storeMaxBytes: STORE_MAX_MIN, savedMaxBytes: 0 })).toMatch(/saved-max-bytes/);
  });
});
