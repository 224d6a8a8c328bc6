// The Perl keeper (the fallback where no C compiler was found) speaks neither
// sd_notify nor the notification fd: `apply` refuses them there with their
// path and why; the HAM's own probes (tcp, http, command) still work.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { entity } from '../helpers/entities.js';
import { ham, hamJson, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

describe('readiness under the Perl keeper', () => {
  it('notify and fd are refused with their path, naming the keeper; a command probe still works', async () => {
    t = tempHome();
    await hamJson(t.home, ['start'], { HAM_KEEPER: 'perl' });
    const file = join(t.home, 'ham.json');
    writeFileSync(
      file,
      JSON.stringify({ entities: { a: { command: ['sleep', '1000'], readiness: { notify: true } }, b: { command: ['sleep', '1000'], readiness: { fd: 3 } } } }),
    );
    const r = await ham(t.home, ['apply', '-f', file]);
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain('entities.a.readiness.notify: expected tcp, http or command: `notify` needs the C keeper, and this HAM runs the Perl keeper');
    expect(out).toContain('entities.b.readiness.fd: expected tcp, http or command: `fd` needs the C keeper');
    expect(out).toContain('keeper.pl');
    expect((await hamJson<{ entities: unknown[] }>(t.home, ['status'])).entities).toHaveLength(0);
    writeFileSync(file, JSON.stringify({ entities: { c: { command: ['sleep', '1000'], readiness: { command: ['true'], intervalMs: 50 } } } }));
    await hamJson(t.home, ['apply', '-f', file]);
    const s = await waitStatus(t.home, 'c ready', (x) => x.entities.some((e) => e.name === 'c' && e.ready));
    expect(entity(s, 'c')).toMatchObject({ state: 'running', ready: true });
  });
});
