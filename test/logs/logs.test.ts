// Output through the keeper under a real pair, read with `ham logs` and the
// client's followLogs: past lines, every entity by time, --since, --json, an
// unknown name; following across restarts and rotations with nothing lost or
// twice; a SIGKILLed keeper whose entity runs on and whose new keeper's lines
// reach the log; `logs` in apply, validated with its path.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { followLogs, readLogs } from '../../src/client/logs.js';
import { planApply } from '../../src/ham/apply-plan.js';
import type { LogLine } from '../../src/logs/line.js';
import { CLI_MAIN } from '../../src/paths.js';
import { keeperArgv } from '../../src/proc/keepers.js';
import { emptyWorld, entity, pairOf } from '../helpers/entities.js';
import { applyConfig, ham, hamJson, keepersWith, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t?.cleanup(ctx)); // the apply tests below start no pair

/** Perl printing "n 0000001".. (fixed width) to stdout, every `every`-th also to stderr. */
const counter = (marker: string, n: number | 'forever', pause = 0): string[] => [
  'perl',
  '-e',
  `$| = 1; for (my $i = 1; ${n === 'forever' ? '' : `$i <= ${n}`}; $i++) { printf "n %07d\\n", $i; printf STDERR "e %07d\\n", $i if $i % 10 == 0; select(undef, undef, undef, ${pause}) if ${pause} }`,
  marker,
];

const nums = (ls: LogLine[], prefix = 'n'): number[] => ls.flatMap((l) => (new RegExp(`^${prefix} \\d{7}$`).test(l.line) ? [Number(l.line.slice(2))] : []));

describe('ham logs', () => {
  it('the last N lines, every entity by time with its name, --since, --json; an unknown name is an error in the one shape', async () => {
    t = tempHome();
    await hamJson(t.home, ['start']);
    await applyConfig(t.home, {
      entities: { a: { command: counter(`${t.home}/a`, 30) }, b: { command: counter(`${t.home}/b`, 30) } },
    });
    await waitFor('both wrote all', () => ['a', 'b'].every((e) => nums(readLogs(t.home, { name: e, n: 100 })).includes(30)));

    const text = (await ham(t.home, ['logs', 'a', '-n', '5'])).stdout.trimEnd().split('\n');
    expect(text).toHaveLength(5);
    expect(text.at(-1)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (out|err) 1 [ne] 0000030$/);
    expect((await ham(t.home, ['logs', 'a'])).stdout.trimEnd().split('\n')).toHaveLength(20); // the default

    const json = (await ham(t.home, ['--json', 'logs', '-n', '1000'])).stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as LogLine);
    expect(json).toHaveLength(2 * 33);
    expect(new Set(json.map((l) => l.entity))).toEqual(new Set(['a', 'b']));
    expect(json.map((l) => l.time)).toEqual([...json.map((l) => l.time)].sort()); // interleaved by time
    expect(json.find((l) => l.line === 'e 0000010' && l.entity === 'b')).toMatchObject({ stream: 'stderr', instance: 1 });
    expect(Object.keys(json[0]!).sort()).toEqual(['entity', 'instance', 'line', 'stream', 'time']);
    const named = (await ham(t.home, ['logs', '-n', '4'])).stdout.trimEnd().split('\n');
    expect(named.every((l) => /^[ab] \| \d{4}-/.test(l))).toBe(true);

    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await ham(t.home, ['logs', 'a', '--since', future])).stdout).toBe('');
    expect((await ham(t.home, ['logs', 'a', '--since', '1h'])).stdout.trimEnd().split('\n')).toHaveLength(33); // all of them, not 20
    const badSince = await ham(t.home, ['logs', 'a', '--since', 'yesterday']);
    expect(badSince.code).toBe(1);
    expect(badSince.stderr).toContain('--since: expected a time');

    const unknown = await ham(t.home, ['--json', 'logs', 'nope']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stdout)).toEqual({
      error: expect.objectContaining({ code: 'unknown-entity', entity: 'nope', message: expect.stringContaining('no logs for "nope"') }),
    });
    expect((await ham(t.home, ['logs', 'nope'])).stderr).toMatch(/^ham: .*no logs for "nope"/);
  });

  it('the client follows across restarts and rotations: every line of every instance once, in order', async () => {
    t = tempHome();
    await hamJson(t.home, ['start']);
    const stop = new AbortController();
    const got: LogLine[] = [];
    // The entity runs 3 times (the first start and 2 restarts), 400 lines each; files rotate every ~4 KiB.
    const following = (async () => {
      await waitFor('the log folder', () => readdirSync(join(t.home, 'logs')).includes('c'));
      for await (const l of followLogs(t.home, { name: 'c', n: 0, signal: stop.signal, pollMs: 200 })) got.push(l);
    })();
    await applyConfig(t.home, {
      logs: { keep: 100 },
      entities: {
        c: {
          command: counter(`${t.home}/c`, 400, 0.001),
          logs: { maxBytes: 4096 },
          conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
        },
      },
    });
    await waitFor('three instances seen whole', () => nums(got.filter((l) => l.instance === 3)).includes(400), 60_000);
    await hamJson(t.home, ['detach', 'c']).catch(() => undefined);
    stop.abort();
    await following;
    const files = readdirSync(join(t.home, 'logs', 'c'));
    expect(files.filter((f) => /^\d+$/.test(f)).length).toBeGreaterThan(5); // it did rotate, several times
    // A follower that starts once the folder is there may miss the first lines of instance 1 only if it
    // started late; n: 0 starts at the end, so instance 1 can begin later than 1: every instance after it is whole.
    for (const i of [2, 3]) {
      const run = got.filter((l) => l.instance === i);
      expect(nums(run)).toEqual(Array.from({ length: 400 }, (_, k) => k + 1));
      expect(nums(run, 'e')).toEqual(Array.from({ length: 40 }, (_, k) => (k + 1) * 10));
    }
    const first = nums(got.filter((l) => l.instance === 1));
    expect(first).toEqual(Array.from({ length: first.length }, (_, k) => 401 - first.length + k));
  });

  it('ham logs -f across a takeover (the HAM SIGKILLed): every line once, in order, none lost', async () => {
    t = tempHome();
    await hamJson(t.home, ['start']);
    await applyConfig(t.home, { entities: { w: { command: counter(`${t.home}/w`, 'forever', 0.002) } } });
    await waitFor('lines', () => nums(readLogs(t.home, { name: 'w', n: 10 })).length > 5);
    const f = spawn(process.execPath, [CLI_MAIN, '--home', t.home, 'logs', 'w', '-n', '3', '-f'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    f.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const s = await waitStatus(t.home, 'the pair', (x) => !!pairOf(x));
      await waitFor('-f prints', () => out.split('\n').length > 10);
      process.kill(s.ham.pid!, 'SIGKILL');
      await waitStatus(t.home, 'the new HAM', (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x));
      const after = Math.max(...nums(readLogs(t.home, { name: 'w', n: 5 })));
      await waitFor('-f goes on', () => out.includes(`n ${String(after + 200).padStart(7, '0')}`), 60_000);
      const printed = out
        .split('\n')
        .filter((l) => / out \d+ n \d{7}$/.test(l))
        .map((l) => Number(l.slice(-7)));
      expect(printed).toEqual(Array.from({ length: printed.length }, (_, i) => printed[0]! + i));
    } finally {
      f.kill('SIGKILL');
    }
  });

  it('a SIGKILLed keeper: the entity runs on, the new keeper adopts it, and its lines reach the log and `ham logs -f`', async () => {
    t = tempHome();
    await hamJson(t.home, ['start']);
    await applyConfig(t.home, { entities: { w: { command: counter(`${t.home}/w`, 'forever', 0.0002), logs: { maxBytes: 1 << 20, keep: 50 } } } });
    const s = await waitStatus(t.home, 'w running', (x) => entity(x, 'w')?.state === 'running');
    const pid = entity(s, 'w')!.pid!;
    await waitFor('lines', () => nums(readLogs(t.home, { name: 'w', n: 100 })).length > 50);
    // `ham logs -f` from before the kill to after the adoption.
    const f = spawn(process.execPath, [CLI_MAIN, '--home', t.home, 'logs', 'w', '-n', '0', '-f'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    f.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      await waitFor('-f prints', () => out.includes(' n '));
      const [keeper] = await waitFor('its keeper', () => {
        const k = keepersWith(`${t.home}/w`);
        return k.length === 1 ? k : undefined;
      });
      process.kill(keeper!, 'SIGKILL');
      const adopted = await waitFor('a new keeper', () => {
        const k = keepersWith(`${t.home}/w`).filter((p) => p !== keeper);
        return k.length === 1 ? k[0] : undefined;
      });
      const at = Math.max(...nums(readLogs(t.home, { name: 'w', n: 50 })));
      await waitFor('lines well after the adoption', () => Math.max(0, ...nums(readLogs(t.home, { name: 'w', n: 50 }))) > at + 5000, 60_000);
      expect(keeperArgv(adopted)).toContain('adopt'); // as it was started (its command line is its title)
      const now = entity(await waitStatus(t.home, 'w running', (x) => entity(x, 'w')?.state === 'running'), 'w')!;
      expect(now.pid).toBe(pid); // the same process: it never got SIGPIPE
      const last = Math.max(...nums(readLogs(t.home, { name: 'w', n: 50 })));
      await waitFor('-f printed the new keeper’s lines', () => out.includes(`n ${String(last).padStart(7, '0')}`));
      const printed = out
        .split('\n')
        .filter((l) => / out \d+ n \d{7}$/.test(l))
        .map((l) => Number(l.slice(-7)));
      for (let i = 1; i < printed.length; i++) expect(printed[i]).toBeGreaterThan(printed[i - 1]!); // nothing twice
    } finally {
      f.kill('SIGKILL');
    }
  });
});

describe('a log folder that cannot be used', () => {
  it.each([
    ['c', {}],
    ['perl', { HAM_KEEPER: 'perl' }],
  ] as const)('%s keeper: the entity runs all the same, and ham status NAME says its output is not kept', async (_kind, env) => {
    t = tempHome();
    await hamJson(t.home, ['start'], env);
    writeFileSync(join(t.home, 'logs', 'bad'), 'not a folder'); // where its log folder goes
    await applyConfig(t.home, { entities: { bad: { command: ['perl', '-e', '$| = 1; print "hello\\n"; sleep 1000', `${t.home}/bad`] } } });
    const s = await waitStatus(t.home, 'bad running, its problem known', (x) => entity(x, 'bad')?.state === 'running' && !!entity(x, 'bad')?.outputProblem);
    expect(entity(s, 'bad')!.outputProblem).toMatch(/^the log folder .*\/logs\/bad: Not a directory$/);
    expect((await ham(t.home, ['status', 'bad'])).stdout).toMatch(/output: +not kept: the log folder .*bad: Not a directory/);
    // Its output went to the keepers' own log instead of nowhere.
    await waitFor('its line in keepers.log', () => readFileSync(join(t.home, 'logs', 'keepers.log'), 'utf8').includes('hello'));
  });

  it.each([
    ['c', 'a FIFO', {}],
    ['perl', 'a FIFO', { HAM_KEEPER: 'perl' }],
    ['c', 'a symlink', {}],
    ['perl', 'a symlink', { HAM_KEEPER: 'perl' }],
  ] as const)('%s keeper, `current` planted as %s: the entity runs, ham status NAME and --json say its log file is refused', async (_kind, what, env) => {
    t = tempHome();
    await hamJson(t.home, ['start'], env);
    mkdirSync(join(t.home, 'logs', 'bad'), { mode: 0o700 });
    const current = join(t.home, 'logs', 'bad', 'current');
    if (what === 'a FIFO') execFileSync('mkfifo', [current]);
    else symlinkSync(join(t.home, 'elsewhere'), current);
    await applyConfig(t.home, { entities: { bad: { command: ['perl', '-e', '$| = 1; print "hello\\n"; sleep 1000', `${t.home}/bad`] } } });
    const s = await waitStatus(t.home, 'bad running, its problem known', (x) => entity(x, 'bad')?.state === 'running' && !!entity(x, 'bad')?.outputProblem);
    const kind = what === 'a FIFO' ? 'a FIFO' : 'a symbolic link \\(never followed\\)';
    expect(entity(s, 'bad')!.outputProblem).toMatch(new RegExp(`^the log file .*/logs/bad/current is ${kind}, not a regular file: its lines are dropped$`));
    expect((await ham(t.home, ['status', 'bad'])).stdout).toMatch(new RegExp(`output: +not kept: the log file .*current is ${kind}`));
    expect(existsSync(join(t.home, 'elsewhere'))).toBe(false);
    expect((await ham(t.home, ['logs', 'bad'])).code).toBe(0); // the reader never blocks on it either (nothing to show)
  });
});

describe('execute actions', () => {
  it("an action's stdout and stderr are kept under ENTITY/CONDITION, read with ham logs", async () => {
    t = tempHome();
    await hamJson(t.home, ['start']);
    const script = 'echo "to out $HAM_CONDITION"; echo "to err" >&2; printf "no newline"';
    await applyConfig(t.home, {
      entities: {
        web: {
          command: ['perl', '-e', 'exit 3', `${t.home}/web`],
          conditions: { died: { type: 'death', actions: [{ kind: 'execute', argv: ['sh', '-c', script] }] } },
        },
      },
    });
    const lines = await waitFor('the action output', () => {
      try {
        const ls = readLogs(t.home, { name: 'web/died' });
        return ls.length >= 3 ? ls : undefined;
      } catch {
        return undefined; // not run yet
      }
    });
    expect(lines.map((l) => [l.stream, l.line, l.entity]).sort()).toEqual([
      ['stderr', 'to err', 'web/died'],
      ['stdout', 'no newline', 'web/died'],
      ['stdout', 'to out died', 'web/died'],
    ]);
    const all = (await ham(t.home, ['logs'])).stdout;
    expect(all).toMatch(/^web\/died \| \S+ out \d+ to out died$/m);
  });
});

describe('logs in apply', () => {
  const world = emptyWorld();

  it('per entity over the top-level default over the built-in one', async () => {
    const r = await planApply({ logs: { keep: 2 }, entities: { a: { command: ['x'], logs: { maxBytes: 65536 } }, b: { command: ['x'] } } }, world);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.plan.creates.map((c) => [c.name, c.logs])).toEqual([
      ['a', { maxBytes: 65536, keep: 2 }],
      ['b', { maxBytes: 10 * 1024 * 1024, keep: 2 }],
    ]);
  });

  it('a wrong field is refused with its path', async () => {
    const r = await planApply({ logs: { keep: -1 }, entities: { a: { command: ['x'], logs: { maxBytes: 10, kept: 3 } } } }, world);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues.map((i) => i.path).sort()).toEqual(['entities.a.logs.kept', 'entities.a.logs.maxBytes', 'logs.keep']);
    expect(r.issues.find((i) => i.path === 'entities.a.logs.maxBytes')!.expected).toMatch(/4096/);
  });
});
