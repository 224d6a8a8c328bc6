// Config fuzzing: mutations of a rich, valid configuration (DESIGN.md's
// example plus groups, requires and a restart policy) through the `apply` op
// and `ham apply -f`, against one running pair. Each is either accepted, and
// applying it again changes nothing, or refused with every problem named by
// its path near what was mutated and nothing changed. After the run the HAM
// has the same pid and epoch, and a restarted pair reads the same state back.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify as toYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusView } from '../../src/protocol/views.js';
import { ham, hamJson, request, status, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';
import { configProblems, mutate, mutation, type Mutation } from './config-mutations.js';

const RUNS = Number(process.env.HAM_FUZZ_RUNS ?? 60);
const SEED = Number(process.env.HAM_FUZZ_SEED ?? 20261201);

let t: TestHome;
const sleeperCmd = (name: string) => ['perl', '-e', 'sleep 100000 while 1', `${t.home}/fuzz-${name}`];

/** DESIGN.md's configuration contract, every section of it. */
function baseConfig(): Record<string, unknown> {
  return {
    entities: {
      web: {
        command: sleeperCmd('web'),
        env: { PORT: '8080' },
        conditions: {
          died: {
            type: 'death',
            rearm: true,
            actions: [
              { kind: 'execute', argv: ['/bin/true', 'web'], timeoutMs: 2000 },
              { kind: 'restart' },
              { kind: 'waitfor', path: 'run/web.sock', timeoutMs: 5000, onFail: [{ kind: 'execute', argv: ['/bin/true', 'page'] }] },
            ],
          },
          slow: { type: 'raise', rearm: true, match: { type: 'latency', severity: 2 }, actions: [{ kind: 'signal', signal: 'SIGTERM', breakOnFail: true }] },
          moods: { type: 'state', rearm: true, from: { in: ['ok'] }, to: { notIn: ['ok'] }, actions: [{ kind: 'notify', message: 'mood' }] },
        },
      },
      db: { command: sleeperCmd('db'), cwd: '.', conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } } },
      api: {
        command: sleeperCmd('api'),
        group: 'backend',
        requires: ['db'],
        stop: { signal: 'SIGTERM', timeoutMs: 5000 },
        restart: {
          backoff: { initialMs: 0, factor: 2, maxMs: 30000, resetAfterMs: 60000 },
          intensity: { max: 5, withinMs: 10000 },
          escalate: [{ kind: 'execute', argv: ['/bin/true', 'api'] }],
        },
        conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart', keepOnFail: true }] } },
      },
      cache: { placeholder: true, conditions: { up: { type: 'attach', rearm: true, actions: [{ kind: 'log', message: 'cache up', level: 'info' }] } } },
      '*': { conditions: { 'any-death': { type: 'death', rearm: true, actions: [{ kind: 'log', message: 'died' }] } } },
    },
    groups: { backend: { strategy: 'one-for-all' } },
  };
}

/** What an apply may change (counters, pids and times left out). */
function declared(s: StatusView): string {
  const conds = (cs: StatusView['entities'][number]['conditions']) =>
    cs.map((c) => ({ ...c, fired: 0, failed: 0, lastFiredAt: null, actions: c.actions.map(act) }));
  const act = (a: StatusView['entities'][number]['conditions'][number]['actions'][number]): unknown => ({
    name: a.name,
    kind: a.kind,
    enabled: a.enabled,
    flags: a.flags,
    params: a.params,
    onFail: a.onFail.map(act),
  });
  const es = [...s.entities]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((e) => ({
      name: e.name,
      kind: e.kind,
      argv: e.argv,
      cwd: e.cwd,
      enabled: e.enabled,
      restart: { ...e.restart, nextDelayMs: 0, inWindow: 0 },
      stop: e.stop,
      group: e.group,
      requires: e.requires,
      conditions: conds(e.conditions),
    }));
  return JSON.stringify({ es, global: s.global && conds(s.global.conditions) });
}

/** How deep a document nests and roughly how many bytes it encodes to (iteratively, stopping past `limit`). */
function measure(v: unknown, limit: number): { depth: number; bytes: number } {
  let depth = 0;
  let bytes = 0;
  const stack: [unknown, number][] = [[v, 0]];
  while (stack.length && bytes <= limit) {
    const [x, d] = stack.pop()!;
    depth = Math.max(depth, d);
    bytes += typeof x === 'string' ? x.length * 3 + 2 : 4;
    if (x && typeof x === 'object') for (const [k, y] of Object.entries(x)) ((bytes += k.length), stack.push([y, d + 1]));
  }
  return { depth, bytes };
}

type Outcome = { ok: true; changes: { entity: string; change: string }[] } | { ok: false; code: string; message: string };

async function applySocket(config: unknown): Promise<Outcome> {
  try {
    const r = await request<{ changes: { entity: string; change: string }[] }>(t.home, 'apply', { config: { ...(config as object), baseDir: t.home } });
    return { ok: true, changes: r.changes };
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { ok: false, code: err.code ?? 'none', message: err.message };
  }
}

let cliRuns = 0;
async function applyCli(config: unknown, yaml: boolean): Promise<Outcome> {
  const file = join(t.home, `fuzz-${cliRuns++}.${yaml ? 'yaml' : 'json'}`);
  let text = JSON.stringify(config);
  try {
    if (yaml && measure(config, Infinity).depth < 100) text = toYaml(config);
  } catch {
    /* the YAML writer's limits (this test's, not ham's): JSON is YAML too */
  }
  writeFileSync(file, text);
  const r = await ham(t.home, ['--json', 'apply', '-f', file]);
  const out = JSON.parse(r.stdout || '{}') as { changes?: { entity: string; change: string }[]; error?: { code: string; message: string } };
  if (r.code === 0) return { ok: true, changes: out.changes ?? [] };
  return { ok: false, code: out.error?.code ?? 'none', message: out.error?.message ?? r.stderr };
}

beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
  const first = await applySocket(baseConfig());
  if (!first.ok) throw new Error(`the base configuration was refused: ${first.message}`);
  await waitStatus(t.home, 'the base entities running', (s) => ['web', 'db', 'api'].every((n) => s.entities.find((e) => e.name === n)?.state === 'running'));
});
afterAll((suite) => t.cleanup({ task: suite }));

describe('config fuzzing (apply)', () => {
  it(`${RUNS} mutated configurations: accepted and idempotent, or refused naming each problem with nothing changed`, async () => {
    const before = await status(t.home);
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.nat({ max: 7 }), async (ms: Mutation[], via) => {
        const config = ms.reduce((c, m) => mutate(c, m), baseConfig() as unknown);
        // Beyond a frame (1 MiB) the client refuses to send it: the socket's bound, not apply's.
        // And msgpackr's encoder recurses: two nestings stacked (2,000 deep) overflow the client's stack.
        fc.pre(measure(config, 900_000).depth < 1500 && measure(config, 900_000).bytes < 900_000);
        const cli = via === 0; // one in eight through `ham apply -f` (a process per run), as JSON or YAML
        const apply = (c: unknown) => (cli ? applyCli(c, cliRuns % 2 === 0) : applySocket(c));
        const s0 = await status(t.home);
        const r = await apply(config);
        const s1 = await status(t.home);
        expect(s1.ham, 'the HAM keeps its pid and epoch').toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
        if (r.ok) {
          accepted += 1;
          const again = await apply(config);
          expect(again.ok, `applied again: ${JSON.stringify(again)}`).toBe(true);
          const s2 = await status(t.home);
          const moved = (again.ok ? again.changes : [])
            .filter((c) => c.change !== 'unchanged')
            .filter((c) => {
              // A new entity whose (mutated) command dies at once is restarted between the two applies: its
              // non-rearmed conditions are pruned by design, and the second apply puts them back.
              const a = s1.entities.find((e) => e.name === c.entity);
              const b = s2.entities.find((e) => e.name === c.entity);
              return !a || !b || a.deaths === b.deaths;
            });
          expect(moved, 'applying the same file twice changes nothing').toEqual([]);
        } else {
          refused += 1;
          expect(r.code, r.message).toBe('bad-request');
          // The CLI's YAML parser has a nesting limit of its own: a file nested too deep is refused as unparsable.
          if (cli && /not valid YAML or JSON/.test(r.message) && ms.some((m) => m.describe.startsWith('nested'))) return;
          const problems = configProblems(r.message);
          expect(problems.length, r.message).toBeGreaterThan(0);
          for (const p of problems) {
            expect(p.path, `a problem without a path: ${JSON.stringify(p.line)}`).not.toBe('');
            expect(
              ms.some((m) => m.relates(p.path, p.line)),
              `${JSON.stringify(p.line.slice(0, 300))} is not about any of the mutations ${ms.map((m) => m.describe).join('; ')}`,
            ).toBe(true);
          }
          expect(declared(s1), 'a refused configuration changes nothing').toBe(declared(s0));
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    const after = await status(t.home);
    expect(after.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    expect(after.guardian.pid).toBe(before.guardian.pid);
    expect(accepted + refused).toBeGreaterThan(RUNS / 2);
    expect(refused).toBeGreaterThan(0);
    expect(accepted).toBeGreaterThan(0);

    // The store is intact: a new pair reads back exactly what this one declared.
    const stop = await ham(t.home, ['stop']);
    expect(stop.code, stop.stderr).toBe(0);
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    const restarted = await waitStatus(t.home, 'the pair back', (s) => s.ham.pid !== before.ham.pid && s.entities.length === after.entities.length);
    expect(declared(restarted)).toBe(declared(after));
    for (const n of ['web', 'db', 'api']) expect(restarted.entities.find((e) => e.name === n)?.pid).toBe(after.entities.find((e) => e.name === n)?.pid);
  }, 240_000);
});
