// Issue 12's figures ("Cost") in one section of BENCHMARKS.md: where the
// pair's memory goes, starting many, 10,000 entities, and the crash loop
// under standing orders. Each next to what the same run measured bare.
import { benchMany, formatMany, type ManyResult } from './many.js';
import { benchMemory, memoryTable } from './memory.js';
import { benchOrdersSoak } from './orders-soak.js';

/** BENCH_MANY=100,1000 picks the sizes (default 100 and 10,000; the latter takes a few minutes). */
const sizes = (quick: boolean): number[] =>
  (process.env.BENCH_MANY ?? (quick ? '100' : '100,10000'))
    .split(',')
    .map(Number)
    .filter((n) => n > 0);

export async function benchCost(quick: boolean): Promise<string> {
  process.stdout.write('memory of the pair with 100 entities...\n');
  const mem = await benchMemory(100);
  const many: ManyResult[] = [];
  for (const n of sizes(quick)) {
    process.stdout.write(`starting ${n} entities...\n`);
    many.push(await benchMany(n));
  }
  process.stdout.write('crash loop under standing orders...\n');
  const so = await benchOrdersSoak(quick ? 10 : 30);
  const exact = so.limited.restarts.every((r) => r === so.limited.max) && so.limited.escalations === so.limited.entities && so.forever.unaccounted === 0;
  const mib = (k: number): string => (k / 1024).toFixed(1);
  const manyRows = many.map(
    (r) =>
      `| ${r.entities} | ${r.applyToRunningMs.toFixed(0)} ms | ${r.bareMs.toFixed(0)} ms (${(r.applyToRunningMs / r.bareMs).toFixed(2)}×) | ${r.sameHam ? 'none' : '**one**'} | ` +
      `${mib(r.pairPssKiB + r.keepersPssKiB)} MiB (pair ${mib(r.pairPssKiB)}, keepers ${mib(r.keepersPssKiB)}) | ${r.statusJsonMs.toFixed(0)} ms | ` +
      `${r.takeoverAllAdoptedMs.toFixed(0)} ms, ${r.adoptedSamePid}/${r.entities} adopted, ${r.restarted} restarted |`,
  );
  return `## Cost

Where the pair's memory goes (issue 12 target: ≤ 40 MiB PSS for the two Node processes with 100 entities):

${memoryTable(mem)}

Starting many: \`ham apply\` of N spawned sleeps until every one runs, next to a bare harness (Node
\`spawn()\` of the same N) in the same run; keepers are started by the launcher, off the HAM's loop.
Targets: 100 ≤ 400 ms, 10,000 ≤ 30 s; ham as a whole ≤ 1.2 GiB; \`status --json\` ≤ 2 s; a SIGKILLed
HAM taken over with every entity adopted and none restarted.

| entities | apply → all running | bare (same run) | takeover while starting | ham PSS | \`status --json\` | HAM SIGKILL → all running |
|---|---|---|---|---|---|---|
${manyRows.join('\n')}

Standing orders (a keeper restarts at once, the HAM counts after): ${so.seconds.toFixed(0)} s of 20 entities
crash-looping with no backoff delay; ${so.byOrder} of ${so.restarts} restarts carried out by order;
limited: ${[...new Set(so.limited.restarts)].join('/')} restarts each (limit ${so.limited.max}), ${so.limited.escalations} escalations,
${so.limited.failed} failed; forever: ${so.forever.deaths} deaths, ${so.forever.restarts} restarts, ${so.forever.unaccounted} unaccounted:
${exact ? 'exact ✔' : 'NOT exact ✘'}.

${many.map(formatMany).join('\n\n')}
`;
}
