// `npm run chaos -- --rounds N [--seed S] [--hang-ms MS] [--kinds K,...] [--write]`: a chaos campaign
// (--write puts its summary into BENCHMARKS.md).
// Each round picks at random what to hurt (SIGKILL or SIGSTOP of the HAM, the
// Guardian, both at once, a keeper or an entity), sometimes while an apply of
// a changing file is in flight, waits for the pair to heal, and checks every
// invariant (chaos-world.ts: check). A summary at the end; exit 1 on any
// violation. The same seed replays the same choices and timings.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../src/paths.js';
import { machine, withSection } from './lib.js';
import type { StatusView } from '../src/protocol/views.js';
import { isStopped, startTime } from '../src/proc/procfs.js';
import { procsWith, sleep } from '../test/helpers/ham.js';
import { check, NAMES, World, type Expect } from './chaos-world.js';

export const KINDS = [
  'ham-kill',
  'ham-stop',
  'guardian-kill',
  'guardian-stop',
  'both-kill',
  'both-stop',
  'keeper-kill',
  'keeper-stop',
  'entity-kill',
  'entity-stop',
] as const;
export type Kind = (typeof KINDS)[number];

export interface ChaosOptions {
  rounds: number;
  seed: number;
  hangMs?: number;
  /** The kinds to draw from (default: all). */
  kinds?: readonly Kind[];
  /** Draw each kind once (in a random order) before drawing at random. */
  cover?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface Violation {
  round: number;
  seed: number;
  what: string;
  problem: string;
}

export interface ChaosResult {
  seed: number;
  rounds: number;
  kinds: Record<string, number>;
  takeovers: number;
  violations: Violation[];
  seconds: number;
}

/** mulberry32: small, seedable, good enough to pick rounds. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const alive = (pid: number | null | undefined): boolean => !!pid && startTime(pid) !== undefined;
const cont = (pid: number): void => {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    /* gone */
  }
};
const kill = (pid: number | null | undefined, sig: NodeJS.Signals): void => {
  try {
    if (pid) process.kill(pid, sig);
  } catch {
    /* gone already */
  }
};

/** Poll until `ok` holds; false at the deadline. */
async function until(ok: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await ok()) return true;
    } catch {
      /* not yet */
    }
    await sleep(50);
  }
  return false;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const hangMs = o.hangMs ?? 2000;
  const kinds = o.kinds ?? KINDS;
  const rand = rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const order = o.cover ? [...kinds].sort(() => rand() - 0.5) : [];
  const log = o.log ?? (() => undefined);
  const w = new World(hangMs);
  const res: ChaosResult = { seed: o.seed, rounds: 0, kinds: {}, takeovers: 0, violations: [], seconds: 0 };
  // Interrupted (Ctrl-C): leave nothing running and no temporary home behind.
  const interrupted = (): void => {
    w.cleanup();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await w.start();
    w.writeFile(0);
    const first = await w.applySocket(w.config(0));
    if (!first.ok) throw new Error(`the first apply failed: ${first.error}`);
    const up = await settled(w, (s) => s.entities.length === NAMES.length && s.entities.every((e) => e.state === 'running' && alive(e.pid)), 30_000);
    if (!up) throw new Error('the entities did not come up');
    let prev: StatusView = up;
    let lastSeq = prev.lastSeq;
    let gens = [0];
    const adopted = new Set<string>();
    for (let round = 0; round < o.rounds; round++) {
      const kind = order[round] ?? pick(kinds);
      const withApply = rand() < 0.3;
      const what = `${kind}${withApply ? '+apply' : ''}`;
      res.kinds[what] = (res.kinds[what] ?? 0) + 1;
      res.rounds += 1;
      const started = Date.now();
      const x: Expect = { takeover: kind.startsWith('ham') || kind === 'both-kill', victim: null, keeperOf: null, gens, adopted };
      const target = pick(NAMES);
      const oldKeepers = new Map(NAMES.map((n) => [n, w.keepers(n)]));
      const viaCli = rand() < 0.5;
      const delay = Math.floor(rand() * (viaCli ? 600 : 30));
      const pause = 200 + Math.floor(rand() * 600);

      // The apply of the next generation, in flight while the blow lands.
      let applied: Promise<{ ok: boolean; error?: string }> | undefined;
      if (withApply) {
        w.gen += 1;
        w.writeFile(w.gen);
        applied = viaCli ? w.applyCli() : w.applySocket(w.config(w.gen));
        await sleep(delay);
      }
      const stopped: number[] = [];
      switch (kind) {
        case 'ham-kill':
          kill(prev.ham.pid, 'SIGKILL');
          break;
        case 'guardian-kill':
          kill(prev.guardian.pid, 'SIGKILL');
          break;
        case 'both-kill':
          kill(prev.ham.pid, 'SIGKILL');
          kill(prev.guardian.pid, 'SIGKILL');
          break;
        case 'ham-stop':
        case 'guardian-stop':
        case 'both-stop': {
          const pids = kind === 'ham-stop' ? [prev.ham.pid!] : kind === 'guardian-stop' ? [prev.guardian.pid!] : [prev.ham.pid!, prev.guardian.pid!];
          for (const p of pids) kill(p, 'SIGSTOP');
          stopped.push(...pids);
          break;
        }
        case 'keeper-kill':
          x.keeperOf = target;
          for (const k of oldKeepers.get(target) ?? []) kill(k, 'SIGKILL');
          break;
        case 'keeper-stop':
          for (const k of oldKeepers.get(target) ?? []) (kill(k, 'SIGSTOP'), stopped.push(k));
          break;
        case 'entity-kill':
          x.victim = target;
          kill(prev.entities.find((e) => e.name === target)?.pid, 'SIGKILL');
          break;
        case 'entity-stop': {
          const p = prev.entities.find((e) => e.name === target)?.pid;
          if (p) (kill(p, 'SIGSTOP'), stopped.push(p));
          break;
        }
      }
      // Hangs: the partner takes over past the threshold; a stopped pair, keeper or entity is just paused.
      if (kind === 'ham-stop') await until(async () => ((await w.status())?.ham.epoch ?? 0) > prev.ham.epoch, hangMs * 5);
      else if (kind === 'guardian-stop')
        await until(async () => !alive(prev.guardian.pid) || ((await w.status())?.guardian.pid ?? prev.guardian.pid) !== prev.guardian.pid, hangMs * 5);
      else if (kind === 'both-stop') await sleep(Math.min(pause * 3, hangMs + 500));
      else if (stopped.length) await sleep(pause);
      for (const p of stopped) cont(p);
      if (kind === 'both-kill') {
        await until(() => !alive(prev.ham.pid) && !alive(prev.guardian.pid), 5000);
        await w.start().catch((e: Error) => res.violations.push({ round, seed: o.seed, what, problem: `ham start did not recover: ${e.message}` }));
      }
      const outcome = applied ? await applied : undefined;
      if (outcome) x.gens = gens = outcome.ok ? [w.gen] : [w.gen - 1, w.gen];

      const healed = (s: StatusView): boolean => {
        if (!s.ham.pid || !s.guardian.pid || s.ham.pid === s.guardian.pid || !alive(s.ham.pid) || !alive(s.guardian.pid)) return false;
        if (stopped.some((p) => isStopped(p))) return false;
        if (x.takeover && s.ham.epoch <= prev.ham.epoch) return false;
        if ((kind === 'ham-stop' || kind === 'ham-kill') && alive(prev.ham.pid)) return false; // the old one must be gone
        if (kind.startsWith('guardian') && (alive(prev.guardian.pid) || s.guardian.pid === prev.guardian.pid)) return false;
        if (x.victim && (s.entities.find((e) => e.name === x.victim)?.restarts ?? 0) <= (prev.entities.find((e) => e.name === x.victim)?.restarts ?? 0))
          return false;
        if (x.keeperOf && (w.keepers(x.keeperOf).length !== 1 || oldKeepers.get(x.keeperOf)?.includes(w.keepers(x.keeperOf)[0]!))) return false;
        return s.entities.length === NAMES.length && s.entities.every((e) => e.state === 'running' && alive(e.pid) && procsWith(w.marker(e.name)).length === 1);
      };
      let now = await settled(w, healed, 30_000 + hangMs * 3);
      if (!now) {
        const s = await w.status();
        res.violations.push({
          round,
          seed: o.seed,
          what,
          problem: `did not heal within ${30 + (hangMs * 3) / 1000} s: ${s ? `HAM ${s.ham.pid} epoch ${s.ham.epoch}, Guardian ${s.guardian.pid}, ${s.entities.map((e) => `${e.name} ${e.state} ${e.pid}`).join(', ')}` : 'nothing answers'}`,
        });
        now = await recover(w, o, round, what, res);
        if (!now) break;
        prev = now;
        lastSeq = now.lastSeq;
        continue;
      }
      // Settle the file: apply until it sticks, then once more (must change nothing).
      if (withApply) {
        const again = await retry(() => w.applySocket(w.config(w.gen)));
        const twice = await w.applySocket(w.config(w.gen));
        if (!again.ok) res.violations.push({ round, seed: o.seed, what, problem: `apply after the round failed: ${again.error}` });
        else if (!twice.ok || twice.changes?.some((c) => c.change !== 'unchanged'))
          res.violations.push({ round, seed: o.seed, what, problem: `apply twice changed something: ${JSON.stringify(twice)}` });
      }
      const evs = await w.eventsSince(lastSeq);
      for (const p of check(w, prev, now, evs, lastSeq, x, oldKeepers)) res.violations.push({ round, seed: o.seed, what, problem: p });
      if (now.ham.epoch > prev.ham.epoch) res.takeovers += 1;
      const after = withApply ? ((await w.status()) ?? now) : now;
      log(
        `round ${round} ${what}${x.victim ? ` ${x.victim}` : ''}${x.keeperOf ? ` keeper of ${x.keeperOf}` : ''}: epoch ${now.ham.epoch}, ${((Date.now() - started) / 1000).toFixed(1)} s${res.violations.some((v) => v.round === round) ? ' VIOLATION' : ''}`,
      );
      gens = [w.gen];
      if (x.victim) adopted.delete(x.victim);
      if (x.keeperOf) adopted.add(x.keeperOf);
      prev = after;
      lastSeq = Math.max(lastSeq, ...evs.map((e) => e.seq));
      if (withApply)
        lastSeq = Math.max(
          lastSeq,
          (await w.eventsSince(lastSeq)).reduce((m, e) => Math.max(m, e.seq), lastSeq),
        );
    }
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    w.cleanup();
  }
  res.seconds = (Date.now() - t0) / 1000;
  return res;
}

async function settled(w: World, ok: (s: StatusView) => boolean, ms: number): Promise<StatusView | undefined> {
  let found: StatusView | undefined;
  await until(async () => {
    const s = await w.status();
    if (s && ok(s)) found = s;
    return !!found;
  }, ms);
  return found;
}

async function retry(f: () => Promise<{ ok: boolean; error?: string }>): Promise<{ ok: boolean; error?: string }> {
  let r = await f();
  for (let i = 0; i < 20 && !r.ok; i++) {
    await sleep(250);
    r = await f();
  }
  return r;
}

/** After a round that did not heal: start the pair if need be and carry on from what it says. */
async function recover(w: World, o: ChaosOptions, round: number, what: string, res: ChaosResult): Promise<StatusView | undefined> {
  for (const n of NAMES) for (const k of w.keepers(n)) cont(k);
  if (!(await w.status())) await w.start().catch(() => undefined);
  const s = await settled(w, (x) => !!x.ham.pid && !!x.guardian.pid && x.entities.every((e) => e.state === 'running'), 30_000);
  if (!s) res.violations.push({ round, seed: o.seed, what, problem: 'could not recover: the campaign stops here' });
  return s;
}

export function summary(r: ChaosResult): string {
  const kinds = Object.entries(r.kinds)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `  ${k}: ${n}`);
  const v = r.violations.map((x) => `  round ${x.round} (${x.what}, seed ${x.seed}): ${x.problem}`);
  return [
    `chaos: ${r.rounds} rounds in ${r.seconds.toFixed(0)} s, seed ${r.seed}, ${r.takeovers} takeovers`,
    'rounds by kind:',
    ...kinds,
    `violations: ${r.violations.length}`,
    ...v,
  ].join('\n');
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const rounds = Number(arg('--rounds') ?? 50);
  const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 31));
  const hangMs = Number(arg('--hang-ms') ?? 2000);
  const kinds = arg('--kinds')?.split(',') as Kind[] | undefined;
  if (kinds?.some((k) => !(KINDS as readonly string[]).includes(k))) {
    process.stderr.write(`--kinds: expected some of ${KINDS.join(', ')}\n`);
    process.exit(2);
  }
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seed) || !Number.isInteger(hangMs) || hangMs < 100) {
    process.stderr.write('usage: npm run chaos -- --rounds N [--seed S] [--hang-ms MS] [--kinds ham-kill,entity-stop,...]\n');
    process.exit(2);
  }
  process.stdout.write(`chaos: ${rounds} rounds, seed ${seed}, hang threshold ${hangMs} ms\n`);
  const r = await runChaos({ rounds, seed, hangMs, cover: true, ...(kinds ? { kinds } : {}), log: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(`\n${summary(r)}\n`);
  if (process.argv.includes('--write')) {
    const file = join(PACKAGE_ROOT, 'BENCHMARKS.md');
    const body = `## Chaos campaign\n\n\`npm run chaos -- --rounds ${rounds} --seed ${seed} --hang-ms ${hangMs}\`, ${new Date().toISOString().slice(0, 10)}, on ${machine()}: each round SIGKILLs or SIGSTOPs the HAM, the Guardian, both, a keeper or an entity (some during an apply of a changing file), waits for the pair to heal, and checks every invariant (one copy of each entity, pids kept unless killed, exit statuses, a rising epoch, event seqs without gaps or duplicates, no orphan keepers, applies all-or-nothing and idempotent).\n\n\`\`\`\n${summary(r)}\n\`\`\``;
    writeFileSync(file, withSection(existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n', 'chaos', body));
    process.stdout.write('wrote its section of BENCHMARKS.md\n');
  }
  process.exit(r.violations.length ? 1 : 0);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: Error) => {
    process.stderr.write(`chaos failed: ${e.stack}\n`);
    process.exit(1);
  });
}
