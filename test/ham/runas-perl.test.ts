// The Perl keeper (the fallback where no C compiler was found) does not apply
// users or limits: `apply` refuses them there, naming the keeper; an env file,
// read by the HAM, still reaches the command.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { ham, hamJson, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

describe('running as under the Perl keeper', () => {
  it('user and limits are refused with their path, naming the keeper; envFile works', async () => {
    t = tempHome();
    await hamJson(t.home, ['start'], { HAM_KEEPER: 'perl' });
    const file = join(t.home, 'ham.json');
    writeFileSync(file, JSON.stringify({ entities: { a: { command: ['sleep', '1000'], user: 'nobody', limits: { nofile: 100 } } } }));
    const r = await ham(t.home, ['apply', '-f', file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(
      /entities\.a\.user: expected no user, group, groups, limits: running as another user or with limits needs the C keeper, .*keeper\.pl/,
    );
    expect((await hamJson<{ entities: unknown[] }>(t.home, ['status'])).entities).toHaveLength(0);
    writeFileSync(join(t.home, 'b.env'), 'FROM_FILE="yes it is"\n');
    writeFileSync(file, JSON.stringify({ entities: { b: { command: ['sleep', '1000'], envFile: join(t.home, 'b.env') } } }));
    await hamJson(t.home, ['apply', '-f', file]);
    const s = await waitStatus(t.home, 'b running', (x) => entity(x, 'b').state === 'running' && entity(x, 'b').pid !== null);
    expect(readFileSync(`/proc/${entity(s, 'b').pid!}/environ`, 'utf8').split('\0')).toContain('FROM_FILE=yes it is');
  });
});
