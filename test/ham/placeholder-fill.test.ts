// A placeholder is filled the same way whether `ham attach` or `ham apply`
// fills it (one fillPlaceholder, then the table's attach): real daemon, real
// processes; the two records differ only in what names and times them.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EntityView } from '../../src/protocol/views.js';
import { entity } from '../helpers/entities.js';
import { CALM, hamJson, procsWith, sleeper, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const died = `{ type: death, rearm: true, actions: [ { kind: log, message: "died" } ] }`;

/** What a fill decides: all but the name, the process, its command and the times. */
function filled(e: EntityView): Partial<EntityView> {
  const { name: _n, pid: _p, argv: _a, startedAt: _s, keeperPid: _k, ...rest } = e;
  return { ...rest, conditions: rest.conditions.map((c) => ({ ...c, lastFiredAt: null })) };
}

describe('filling a placeholder', () => {
  it('by attach and by apply gives the same record: kind, state, conditions, policies, counters', async () => {
    const file = join(t.home, 'placeholders.yaml');
    writeFileSync(file, `entities:\n  a: { placeholder: true, conditions: { died: ${died} } }\n  b: { placeholder: true, conditions: { died: ${died} } }\n`);
    await hamJson(t.home, ['apply', '-f', file]);
    await hamJson(t.home, ['attach', 'a', '--cwd', t.home, '--', ...sleeper(`${t.home}/a`)]);
    const fill = join(t.home, 'fill.yaml');
    const argv = JSON.stringify(sleeper(`${t.home}/b`));
    writeFileSync(fill, `entities:\n  b: { command: ${argv}, cwd: ${JSON.stringify(t.home)}, conditions: { died: ${died} } }\n`);
    await hamJson(t.home, ['apply', '-f', fill]);
    const s = await waitStatus(t.home, 'a and b running', (x) =>
      ['a', 'b'].every((n) => entity(x, n).state === 'running' && entity(x, n).pid !== null && entity(x, n).instance === 1),
    );
    expect(entity(s, 'a')).toMatchObject({ kind: 'spawned', cwd: t.home, conditions: [{ name: 'died', type: 'death' }] });
    expect(filled(entity(s, 'a'))).toEqual(filled(entity(s, 'b')));
    expect(procsWith(`${t.home}/a`)).toEqual([entity(s, 'a').pid]);
    expect(procsWith(`${t.home}/b`)).toEqual([entity(s, 'b').pid]);
  });
});
