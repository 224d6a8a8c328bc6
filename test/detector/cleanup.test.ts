// Through a running HAM: a check detector whose child leaves its session
// (setsid) leaves no process behind, whether the check exits or times out.
import { existsSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { hamJson, request, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
  await request(t.home, 'attach', { name: 'db' });
});
afterEach((ctx) => t.cleanup(ctx));

/** Gone from /proc: killed and reaped. */
const reaped = (pid: number): boolean => !existsSync(`/proc/${pid}`);

describe('check clean-up through the HAM', () => {
  for (const how of ['exits', 'times out'] as const) {
    it(`a check that starts a setsid sleep and ${how} leaves no process behind`, async () => {
      const pf = join(t.home, 'escapee');
      const tail = how === 'exits' ? 'exit 0' : 'sleep 1000';
      putDetector(
        t.home,
        'leaky',
        `#!/bin/sh
# ham: kind=check entity=db interval=1h timeout=${how === 'exits' ? '10s' : '1s'} tries=1
setsid sh -c 'echo $$ > ${pf}.tmp; mv ${pf}.tmp ${pf}; exec perl -e "sleep 1000" ${t.home}' &
while [ ! -e ${pf} ]; do sleep 0.02; done
${tail}
`,
      );
      const d = await waitDetector(t.home, 'leaky', 'one run', (x) => x.lastResult !== null && x.lastResult !== undefined);
      expect(d.lastResult).toMatch(how === 'exits' ? /exit 0/ : /timed out/);
      const pid = Number(readFileSync(pf, 'utf8'));
      expect(pid).toBeGreaterThan(0);
      await waitFor('the setsid child killed and reaped', () => reaped(pid));
      unlinkSync(pf);
    });
  }
});
