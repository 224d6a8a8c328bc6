// ham logs [NAME] [-n N] [-f] [--since TIME] [--json]: an entity's captured
// output, read from the home's files (no daemon needed), followed with -f.
import type { Command } from 'commander';
import { resolveHome } from '../model/home-paths.js';
import { HamError } from '../model/errors.js';
import type { LogLine } from '../logs/line.js';
import { globals, type Globals } from './call.js';
import { escapeField, jsonSafe } from './escape.js';
import { fail } from './output.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** --since: an ISO time or date, or an age such as 90s, 10m, 2h, 1d; as an ISO UTC string. */
export function parseSince(v: string, now = Date.now()): string {
  const age = /^(\d{1,12})(ms|s|m|h|d)$/.exec(v);
  const t = age ? now - Number(age[1]) * UNITS[age[2]!]! : /^\d{4}-\d\d-\d\d/.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(t))
    throw new HamError({
      code: 'bad-request',
      message: `--since: expected a time (2026-12-01T18:00:00Z, 2026-12-01) or an age (90s, 10m, 2h, 1d), got ${JSON.stringify(v)}`,
    });
  return new Date(t).toISOString();
}

function count(v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw new HamError({ code: 'bad-request', message: `-n: expected a number of lines (0 or more), got ${JSON.stringify(v)}` });
  return Number(v);
}

function print(g: Globals, l: LogLine, withName: boolean, formatLogLine: (l: LogLine, withName: boolean) => string): void {
  process.stdout.write(`${g.json ? jsonSafe(JSON.stringify(l)) : escapeField(formatLogLine(l, withName))}\n`);
}

export function registerLogCommands(program: Command): void {
  program
    .command('logs')
    .description("an entity's output (stdout and stderr, with times), or every entity's by time")
    .argument('[name]', 'one entity (default: all, each line prefixed by its name)')
    .option('-n, --lines <n>', 'the last N lines (default 20)')
    .option('-f, --follow', 'then print new lines as they come (across rotations, restarts and takeovers)')
    .option('--since <time>', 'only lines since then: a time (ISO 8601) or an age (90s, 10m, 2h, 1d)')
    .action(async (name: string | undefined, o: { lines?: string; follow?: boolean; since?: string }, cmd: Command) => {
      const g = globals(cmd);
      try {
        // Loaded here, not by every command: only `ham logs` reads the log files.
        const [{ followLogs, readLogs }, { formatLogLine }] = await Promise.all([import('../client/logs.js'), import('../logs/line.js')]);
        const home = resolveHome(g.home);
        const q = {
          ...(name !== undefined ? { name } : {}),
          n: o.lines === undefined ? (o.since !== undefined ? Number.MAX_SAFE_INTEGER : 20) : count(o.lines),
          ...(o.since !== undefined ? { since: parseSince(o.since) } : {}),
        };
        const withName = name === undefined;
        if (!o.follow) {
          for (const l of readLogs(home, q)) print(g, l, withName, formatLogLine);
          return;
        }
        process.stdout.on('error', () => process.exit(0)); // a reader gone (`ham logs -f | head`)
        const stop = new AbortController();
        process.once('SIGINT', () => stop.abort());
        process.once('SIGTERM', () => stop.abort());
        for await (const l of followLogs(home, { ...q, signal: stop.signal })) print(g, l, withName, formatLogLine);
      } catch (e) {
        fail(g, e);
      }
    });
}
