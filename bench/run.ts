// `npm run bench`: every figure next to the physical limit measured in the
// same run, printed and written to BENCHMARKS.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keeperCommand, PACKAGE_ROOT } from '../src/paths.js';
import { benchClients } from './clients.js';
import { benchConditions } from './conditions.js';
import { benchCost } from './cost.js';
import { benchDetectors } from './detectors.js';
import { benchFootprint } from './footprint.js';
import { benchHardening } from './hardening.js';
import { benchMore } from './more.js';
import { benchOperator } from './operator.js';
import { fmt, machine, median, quantile, sectionOf, withSection } from './lib.js';
import { benchRestart } from './restart.js';
import { benchSoak } from './soak.js';
import { benchTakeover } from './takeover.js';

const quick = process.argv.includes('--quick');
const N = quick ? 8 : 30;

async function main(): Promise<void> {
  const started = new Date();
  process.stdout.write(`ham benchmarks on ${machine()}\n\n`);

  process.stdout.write('restart latency (30 SIGKILLs each)...\n');
  const r = await benchRestart(N);
  const bare = median(r.bare);
  const rows: string[][] = [];
  const row = (what: string, ms: number[], limit: number, limitName: string, target: string): void => {
    const m = median(ms);
    rows.push([what, `${fmt(m)} ms`, `${fmt(quantile(ms, 0.9))} ms`, `${fmt(limit)} ms (${limitName})`, `${(m / limit).toFixed(2)}×`, target]);
  };
  row('entity SIGKILL → restarted (HAM spawned it)', r.hamParent, bare, 'bare spawn of the same program', '≤ 1.2× (runit: 1.27×)');
  row('entity SIGKILL → restarted (after a takeover)', r.afterTakeover, bare, 'bare spawn', '≤ 1.2×');

  process.stdout.write('takeover...\n');
  const t = await benchTakeover(quick ? 5 : 20, quick ? 2 : 5);
  const nodeStart = median(t.nodeStart);
  row('HAM SIGKILL → new HAM answers the socket', t.answered, nodeStart, '`node -e 0` start to exit', '≤ 50 ms');
  row('HAM SIGKILL → full pair restored (new Guardian up)', t.pairRestored, nodeStart, '`node -e 0`', '-');
  const overshoot = t.hangTakeover.map((x) => x - t.hangMs);
  rows.push([
    `HAM SIGSTOP → new HAM answers (threshold ${t.hangMs} ms neither idle nor answering)`,
    `${fmt(median(t.hangTakeover))} ms`,
    `${fmt(quantile(t.hangTakeover, 0.9))} ms`,
    `${t.hangMs} ms (threshold)`,
    `${median(overshoot) >= 0 ? '+' : '−'}${fmt(Math.abs(median(overshoot)))} ms`,
    '≤ threshold + 100 ms',
  ]);

  process.stdout.write('conditions and actions with 1,000 entities...\n');
  const c = await benchConditions(1000, quick ? 500 : 5000, quick ? 20_000 : 100_000);
  const cond = [
    ['measure', 'result', 'physical limit (same run)', 'ratio', 'target'],
    [
      `occurrence → first action started (${c.latency.count} raises, ${c.entities} entities)`,
      `median ${fmt(c.latency.p50 ?? NaN)} ms, p99 ${fmt(c.latency.p99 ?? NaN)} ms, max ${fmt(c.latency.max ?? NaN)} ms`,
      '-',
      '-',
      'median ≤ 1 ms, p99 ≤ 10 ms',
    ],
    [
      `raise → log action, end to end (${c.raises} raises, 4 connections × 256 in flight)`,
      `${Math.round(c.raisesPerSec)} events/s`,
      `${Math.round(c.pingsPerSec)} pings/s (same load, no store work)`,
      `${(c.raisesPerSec / c.pingsPerSec).toFixed(2)}×`,
      '≥ 20,000 events/s',
    ],
  ];

  process.stdout.write('self-attached clients with 1,000 entities...\n');
  const k = await benchClients(1000, quick ? 100_000 : 300_000, 100, quick ? 500 : 2000);
  const late = (l: typeof k.lateness): string => `median ${fmt(l.p50 ?? NaN)} ms, p99 ${fmt(l.p99 ?? NaN)} ms, max ${fmt(l.max ?? NaN)} ms`;
  const clients = [
    ['measure', 'result', 'reference (same run)', 'target'],
    [
      `heartbeats ingested (${k.beats} beats, ${k.entities} entities on 10 connections)`,
      `${Math.round(k.beatsPerSec)} beats/s`,
      `${Math.round(k.pingsPerSec)} pings/s (request/reply)`,
      '≥ 100,000 beats/s',
    ],
    [
      `missed heartbeat → mark fired, past its deadline (${k.lateness.count} marks; beats on spread phases, entities falling silent one by one)`,
      late(k.lateness),
      '-',
      'p99 ≤ 10 ms',
    ],
    [`the same, thundering herd (${k.herd.count} marks: all ${k.entities} silent in the same millisecond)`, late(k.herd), '-', 'p99 ≤ 10 ms'],
    [`event fan-out (${k.events} events × ${k.subscribers} subscribers)`, `${Math.round(k.deliveriesPerSec)} deliveries/s`, '-', '-'],
  ];

  process.stdout.write('detectors...\n');
  const dz = await benchDetectors(quick ? 100 : 500, quick ? [200] : [200, 500, 1000], quick ? 5 : 15);
  const s = dz.stream;
  const dets = [
    ['measure', 'result', 'reference (same run)', 'target'],
    [
      `stream line read → its condition fired (${s.count} events, one every 20 ms)`,
      `median ${fmt(s.p50 ?? NaN)} ms, p99 ${fmt(s.p99 ?? NaN)} ms, max ${fmt(s.max ?? NaN)} ms`,
      `${fmt(dz.pingMs)} ms (a \`ping\` round trip)`,
      'median ≤ 2 ms',
    ],
    ...dz.checks.map((c) => [
      `${c.n} check detectors at 1 s (${Math.round(c.checksPerSec)} checks/s over ${c.seconds.toFixed(0)} s): HAM event-loop delay`,
      `median ${fmt(c.loop.p50)} ms, p99 ${fmt(c.loop.p99)} ms, max ${fmt(c.loop.max)} ms`,
      `${c.n} checks/s expected`,
      c.n === 200 ? 'p99 ≤ 10 ms' : '-',
    ]),
  ];

  process.stdout.write(`crash-loop soak (20 entities, ${quick ? 20 : 60} s)...\n`);
  const so = await benchSoak(quick ? 20 : 60);
  const allExact = so.limited.restarts.every((r) => r === so.limited.max);
  const soak = [
    ['measure', 'result', 'policy / limit', 'target'],
    [
      `10 entities with intensity (at most ${so.limited.max} restarts, then escalate once and fail)`,
      `restarts ${[...new Set(so.limited.restarts)].join('/')} each, ${so.limited.escalations} escalations, ${so.limited.failed} failed`,
      `${so.limited.max} each, 10, 10`,
      allExact && so.limited.escalations === 10 ? 'exact ✔' : 'NOT exact ✘',
    ],
    [
      `10 entities restarted forever after 100 ms (${so.forever.perEntityPerSec.toFixed(1)} restarts/s each)`,
      `${so.forever.deaths} deaths, ${so.forever.restarts} restarts, ${so.forever.unaccounted} unaccounted`,
      'every death restarted once',
      so.forever.unaccounted === 0 ? 'exact ✔' : 'NOT exact ✘',
    ],
    [
      `HAM RSS over ${so.seconds.toFixed(0)} s (sampled every second)`,
      `median ${so.rssMiB.early.toFixed(1)} MiB over 10–20 s → ${so.rssMiB.late.toFixed(1)} MiB over the last 10 s (${so.rssMiB.late - so.rssMiB.early >= 0 ? '+' : ''}${(so.rssMiB.late - so.rssMiB.early).toFixed(1)}; max ${so.rssMiB.max.toFixed(1)})`,
      '-',
      'growth ≤ 5 MB',
    ],
    ['HAM CPU during the soak', `${so.hamCpuPercent.toFixed(1)} % of one core`, '-', 'bounded'],
  ];

  const hardening = await benchHardening(quick);

  process.stdout.write('footprint with 100 entities...\n');
  const f = await benchFootprint(100, quick ? 10 : 30);
  const cost = await benchCost(quick);
  const operator = await benchOperator(quick);
  const more = await benchMore(quick);

  const table = [['measure', 'median', 'p90', 'physical limit (same run)', 'ratio', 'target'], ...rows];
  const md = (rs: string[][]): string =>
    [`| ${rs[0]!.join(' | ')} |`, `|${rs[0]!.map(() => '---').join('|')}|`, ...rs.slice(1).map((x) => `| ${x.join(' | ')} |`)].join('\n');
  const mib = (k: number): string => `${(k / 1024).toFixed(1)} MiB`;
  const foot = [
    ['measure', 'ham', 'runit', 's6', 'PM2 7', 'supervisord 4'],
    [
      `own memory, ${f.entities} services (PSS)`,
      `${mib(f.daemonsPssKiB + f.keepersPssKiB)} (pair ${mib(f.daemonsPssKiB)} + keepers ${mib(f.keepersPssKiB)}, ${f.perKeeperPssKiB.toFixed(0)} KiB each)`,
      '9.8 MiB',
      '13.3 MiB',
      '70.1 MiB',
      '30.1 MiB',
    ],
    [
      `own CPU idle over ${f.idleSeconds.toFixed(0)} s, ${f.entities} services`,
      `${f.idleCpuPercent.toFixed(3)} % (daemons ${f.daemonsIdleCpuPercent.toFixed(4)} %, C helpers ${f.watchesIdleCpuPercent.toFixed(4)} %)`,
      '0.003 %',
      '0 %',
      '0.12 %',
      '0.09 %',
    ],
  ];
  const out = `# Benchmarks

Written by \`npm run bench\`${quick ? ' (--quick)' : ''} on ${started.toISOString().slice(0, 10)}.

Machine: ${machine()}.

Each figure is the median (and p90) of real kills, next to the physical limit
measured in the same run. The entity program is the one in peers.md: \`sh\`
appends a timestamp, then \`exec sleep\`; restart latency is that timestamp
minus the moment of the kill (bare: minus the moment of \`spawn()\`). Between
kills the entity runs ≥ 1 s, so the backoff policy restarts it at once.

${md(table)}

The keeper (a tiny C parent per entity, ${keeperCommand().kind === 'c' ? 'used in this run' : 'but this run used the Perl fallback'}) is the parent whether or not the
current HAM spawned the entity, which is why both restart rows match. Each
daemon runs under a tiny C nanny (its parent) that learns of a stop at once
(SIGCHLD) and of a busy loop from a CPU-time timer, and alerts the partner,
which then probes: a SIGSTOP is taken over the threshold after the stop, plus
the takeover (the \`/proc\` watch of earlier rounds is the fallback).

## Conditions and actions

The latency is measured inside the HAM, from the moment an occurrence is seen
(a raise request handled, a keeper record read) to the moment its first
action's code is entered, with the run recorded in the store in between.
Raises are sent one at a time on random entities, each with a raise condition
whose action is a (non-inline) \`waitfor\`. Throughput: \`raise\` requests on one
entity whose condition logs; each request is answered after its event and
counters are committed and the log line is written.

${md(cond)}

## Self-attached clients

Heartbeats are notifications (no reply) that only touch memory; the monitor
keeps one heap entry per entity and a single timer. Lateness is measured in
the HAM from each mark's deadline (last beat + marks × period) to the moment
it fires (the event is committed in the same turn or the next).

${md(clients)}

## Detectors

Checks are forked by a small Perl runner, not by the HAM (a fork of the 50 MB
Node process costs milliseconds of its event loop on this VM); the HAM only
writes a request line and reads an answer line per check. The stream latency
is measured in the HAM from reading the line to its conditions committed and
their action runs started. Loop delay is sampled every 1 ms (perf_hooks).

${md(dets)}

## Crash-loop soak

Twenty entities whose program exits at once, restarted by the recovery
policy from \`ham apply\` for ${quick ? 20 : 60} s. Counts are read from \`ham status\`.

${md(soak)}

## Footprint

Ours measured in this run; the peers' columns are copied from an earlier
peers run (see "Peers" below for ham beside them in one run). The pair is
two Node processes (started with small V8 young generations and one GC
thread); each keeper is a small C program. Idle, nothing of the pair wakes:
no beats, no samples; the nannies sleep until their daemon stops, spins or
exits (the C helpers column counts them).

${md(foot)}

${cost}

${operator}

${more}

Samples (ms): bare ${r.bare.map(fmt).join(' ')}; restart ${r.hamParent.map(fmt).join(' ')}; after takeover ${r.afterTakeover.map(fmt).join(' ')}; HAM answered ${t.answered.map(fmt).join(' ')}; hang ${t.hangTakeover.map(fmt).join(' ')}.
`;
  process.stdout.write(`\n${md(table)}\n\n${md(cond)}\n\n${md(clients)}\n\n${md(dets)}\n\n${md(soak)}\n\n${md(foot)}\n\n${cost}\n\n${operator}\n\n${more}\n`);
  // The chaos campaign's section is written by \`npm run chaos -- --write\` (it takes a quarter of an hour): kept.
  const file = join(PACKAGE_ROOT, 'BENCHMARKS.md');
  // Likewise the peers' section (\`npm run bench:peers\`: every peer installed, a quarter of an hour).
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const kept = ['peers', 'chaos'].map((n) => sectionOf(old, n)).filter((x) => x);
  writeFileSync(file, `${withSection(out, 'hardening', hardening)}${kept.map((x) => `\n${x}\n`).join('')}`);
  process.stdout.write('\nwrote BENCHMARKS.md\n');
}

main().catch((e: Error) => {
  process.stderr.write(`bench failed: ${e.stack}\n`);
  process.exit(1);
});
