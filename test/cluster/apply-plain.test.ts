// A plain `ham apply` on a node in no cluster goes as without a cluster even once the cluster
// runtime is loaded (the review's H3): after a `cluster:` apply that failed (etcd unreachable)
// or a dry run of one, a file with no cluster parts is applied and its entities run; a file
// with placed entities is still refused (a `cluster:` block needed).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CALM, ham, hamJson, sleeper, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

async function apply(config: object, dryRun = false): Promise<{ code: number | null; out: string }> {
  const file = join(t.home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  const r = await ham(t.home, ['--json', 'apply', ...(dryRun ? ['--dry-run'] : []), '-f', file]);
  return { code: r.code, out: r.stdout + r.stderr };
}

const unreachable = { cluster: { etcd: ['http://127.0.0.1:9'], node: 'a', ttlMs: 3000 } };
const running = (name: string) => (s: Awaited<ReturnType<typeof waitStatus>>) => s.entities.some((e) => e.name === name && e.state === 'running');

describe('a plain apply on a node in no cluster, the cluster runtime loaded', () => {
  it('after a failed join: applied and run; a placed entity is still refused', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const joined = await apply(unreachable);
    expect(joined.code).not.toBe(0); // etcd is not there: refused, nothing kept
    const plain = await apply({ entities: { w: { command: sleeper(`${t.home}/w`) } } });
    expect(plain.out).toContain('"w"');
    expect(plain.code).toBe(0);
    await waitStatus(t.home, 'w running', running('w'));
    const placed = await apply({ entities: { p: { command: sleeper(`${t.home}/p`), placement: { nodes: ['a'] } } } });
    expect(placed.code).not.toBe(0);
    expect(placed.out).toContain('placed entities need one');
  });

  it('after a dry run of a cluster file: applied and run', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const dry = await apply(unreachable, true);
    expect(dry.code).toBe(0);
    const plain = await apply({ entities: { w: { command: sleeper(`${t.home}/w`) } } });
    expect(plain.code).toBe(0);
    await waitStatus(t.home, 'w running', running('w'));
  });
});
