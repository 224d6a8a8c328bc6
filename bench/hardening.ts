// The hardening figures: load a user can cause (bench/load.ts), the frame
// fuzzer at full size (bench/fuzz-frames.ts) and a raise flood (bench/flood.ts).
// Part of `npm run bench`; `npm run bench:hardening` runs it alone and
// rewrites only its section of BENCHMARKS.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PACKAGE_ROOT } from '../src/paths.js';
import { benchFlood } from './flood.js';
import { fuzzFrames } from './fuzz-frames.js';
import { fmt, machine, startBenchPair, withSection } from './lib.js';
import { benchLoad, loadTable, TARGET_MS } from './load.js';

const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MiB`;

/** The section, as Markdown. */
export async function benchHardening(quick: boolean): Promise<string> {
  process.stdout.write('hardening: load phases...\n');
  const load = await benchLoad({ phaseMs: quick ? 15_000 : 30_000 });

  const frames = quick ? 5_000 : 50_000;
  process.stdout.write(`hardening: ${frames} fuzzed frames...\n`);
  const pair = await startBenchPair({ hangMs: 1000 });
  let fz;
  try {
    fz = await fuzzFrames(pair.home, { frames, seed: 20261201 });
  } finally {
    await pair.close();
  }

  process.stdout.write('hardening: raise flood...\n');
  const fl = await benchFlood(50, quick ? 1000 : 5000);

  const codes = Object.entries(fz.codes)
    .sort(([, a], [, b]) => b - a)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
  const rows = [
    ['measure', 'result', 'target'],
    [
      `${fz.framesSent} fuzzed frames on ${fz.connections} connections (random bytes, truncated, huge prefixes, wrong shapes, every op mutated, nil/undefined/ext, __proto__)`,
      `${fz.errorsAnswered} errors answered (${codes}), ${fz.okAnswered} accepted, ${fz.connectionsCut} connections closed; HAM pid ${fz.hamBefore.pid === fz.hamAfter.pid ? 'kept' : 'CHANGED'}, epoch ${fz.hamBefore.epoch} → ${fz.hamAfter.epoch}; RSS ${mib(fz.rssBefore)} → ${mib(fz.rssAfter)}; ${(fz.ms / 1000).toFixed(1)} s`,
      'no crash, no takeover, RSS bounded',
    ],
    [
      `raise flood: ${fl.connections} connections pipelining ${fl.raises} raises`,
      `${Math.round(fl.perSecond)} raises/s; HAM RSS ${mib(fl.rssBeforeBytes)} → peak ${mib(fl.rssPeakBytes)} → ${mib(fl.rssAfterBytes)}; a ping from another connection p50 ${fmt(fl.pingMs.p50)} ms, p99 ${fmt(fl.pingMs.p99)} ms; takeovers ${fl.takeovers}`,
      'RSS bounded, no takeover',
    ],
  ];
  const md = [`| ${rows[0]!.join(' | ')} |`, `|${rows[0]!.map(() => '---').join('|')}|`, ...rows.slice(1).map((x) => `| ${x.join(' | ')} |`)].join('\n');
  return `## Hardening: load a user can cause, fuzzed frames, floods

Written ${new Date().toISOString().slice(0, 10)}${quick ? ' (--quick)' : ''} on ${machine()}.

Each phase runs against one pair with the default hang threshold (${load.hangMs} ms); a
separate probe asks \`status\` every 50 ms throughout. Target: every probe answered
within ${TARGET_MS} ms and no takeover (the HAM's epoch unchanged): **${load.ok ? 'met' : 'NOT met'}**.

${loadTable(load)}

${md}
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  benchHardening(process.argv.includes('--quick')).then(
    (section) => {
      const file = join(PACKAGE_ROOT, 'BENCHMARKS.md');
      writeFileSync(file, withSection(readFileSync(file, 'utf8'), 'hardening', section));
      process.stdout.write(`\n${section}\n\nwrote its section of BENCHMARKS.md\n`);
      process.exit(0);
    },
    (e: Error) => {
      process.stderr.write(`hardening bench failed: ${e.stack}\n`);
      process.exit(1);
    },
  );
}
