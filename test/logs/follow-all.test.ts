// `ham logs -f` without NAME: every entity interleaved, each line prefixed by its name, followed
// across rotations (one entity's log rotates every few hundred lines), restarts (the other exits
// and is restarted, a new instance each time) and a takeover (the HAM SIGKILLed), with nothing
// lost or printed twice.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { CLI_MAIN } from '../../src/paths.js';
import { pairOf } from '../helpers/entities.js';
import { applyConfig, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

/** Perl printing "n 0000001".. (fixed width), one line each `pause` s; `n` lines, or for ever. */
const counter = (marker: string, n: number | 'forever', pause: number): string[] => [
  'perl',
  '-e',
  `$| = 1; for (my $i = 1; ${n === 'forever' ? '' : `$i <= ${n}`}; $i++) { printf "n %07d\\n", $i; select(undef, undef, undef, ${pause}) }`,
  marker,
];

const LINE = /^([a-z]+) \| \S+ out (\d+) n (\d{7})$/;
const B_LINES = 300;

it('without NAME: every entity by name, across rotations, restarts and a HAM SIGKILL, every line once', async () => {
  t = tempHome();
  await hamJson(t.home, ['start']);
  await applyConfig(t.home, {
    logs: { keep: 1000 },
    entities: {
      a: { command: counter(`${t.home}/a`, 'forever', 0.002), logs: { maxBytes: 4096 } },
      b: {
        command: counter(`${t.home}/b`, B_LINES, 0.002),
        conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
      },
    },
  });
  await waitFor('both log folders', () => ['a', 'b'].every((n) => readdirSync(join(t.home, 'logs')).includes(n)), 30_000);
  const f = spawn(process.execPath, [CLI_MAIN, '--home', t.home, 'logs', '-f', '-n', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  f.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  const lines = (): string[] => out.split('\n').slice(0, -1);
  const of = (name: string): { instance: number; n: number }[] =>
    lines().flatMap((l) => {
      const m = LINE.exec(l);
      return m && m[1] === name ? [{ instance: Number(m[2]), n: Number(m[3]) }] : [];
    });
  /** The instances of b printed whole (1..B_LINES). */
  const wholeB = (): number[] =>
    [...new Set(of('b').map((x) => x.instance))].filter((i) => of('b').filter((x) => x.instance === i && x.n === B_LINES).length > 0);
  try {
    await waitFor('-f prints both', () => of('a').length > 0 && of('b').length > 0, 30_000);
    // A restart of b while following: an instance begun after -f started, printed whole.
    const firstB = of('b')[0]!.instance;
    await waitFor('a restart of b printed whole', () => wholeB().some((i) => i > firstB), 60_000);
    const s = await waitStatus(t.home, 'the pair', (x) => !!pairOf(x));
    process.kill(s.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'the new HAM', (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x), 60_000);
    const aAt = Math.max(...of('a').map((x) => x.n));
    const bAt = Math.max(...of('b').map((x) => x.instance));
    // After the takeover: a writes on (rotating), b restarted by the new HAM, all printed.
    await waitFor('a well past the takeover', () => Math.max(...of('a').map((x) => x.n)) > aAt + 1000, 90_000);
    await waitFor('an instance of b begun after the takeover, printed whole', () => wholeB().some((i) => i > bAt), 90_000);
  } finally {
    f.kill('SIGKILL');
  }
  // Every line is one of theirs, prefixed by its name (nothing else, no half lines).
  for (const l of lines()) expect(l).toMatch(/^(a|b) \| \S+ (out|ham) \d+ /);
  // a: one run, every number once, in order, across all its rotations.
  const a = of('a');
  expect(new Set(a.map((x) => x.instance)).size).toBe(1);
  expect(a.map((x) => x.n)).toEqual(Array.from({ length: a.length }, (_, i) => a[0]!.n + i));
  expect(readdirSync(join(t.home, 'logs', 'a')).filter((x) => /^\d+$/.test(x)).length).toBeGreaterThan(10); // it did rotate
  // b: each instance's lines once, in order; all but the first (-n 0 joined it midway) and the last (still running) whole.
  const b = of('b');
  const instances = [...new Set(b.map((x) => x.instance))];
  expect(instances).toEqual([...instances].sort((x, y) => x - y));
  expect(instances.length).toBeGreaterThanOrEqual(3);
  instances.forEach((i, k) => {
    const ns = b.filter((x) => x.instance === i).map((x) => x.n);
    const from = k === 0 ? ns[0]! : 1;
    const to = k === instances.length - 1 ? ns.at(-1)! : B_LINES;
    expect(ns).toEqual(Array.from({ length: to - from + 1 }, (_, j) => from + j));
  });
}, 240_000);
