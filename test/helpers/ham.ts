// Helpers for tests that run the real CLI and daemons on a temporary home.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '../../src/client/connection.js';
import { statusAll } from '../../src/client/pages.js';
import { CLI_MAIN, isDaemonArgv, isKeeperArgv } from '../../src/paths.js';
import { childrenOf, findProcesses, isStopped } from '../../src/proc/procfs.js';
import { keeperProcesses } from '../../src/proc/keepers.js';
import type { Issue } from '../../src/errors.js';
import type { StatusView } from '../../src/protocol/views.js';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `ham ARGS...` against a home; never throws on a non-zero exit. */
export function ham(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_MAIN, '--home', home, ...args],
      { env: { ...process.env, ...env }, timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function hamJson<T = unknown>(home: string, args: string[], env?: NodeJS.ProcessEnv): Promise<T> {
  const r = await ham(home, ['--json', ...args], env);
  if (r.code !== 0) throw new Error(`ham ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** `ham apply -f` of `config`, written as JSON into the home (ham.json). */
export function applyConfig<T = unknown>(home: string, config: object): Promise<T> {
  const file = join(home, 'ham.json');
  writeFileSync(file, JSON.stringify(config));
  return hamJson<T>(home, ['apply', '-f', file]);
}

/** The issues of an `apply -f` of `config` that must be refused (written as bad.json into the home). */
export async function applyIssues(home: string, config: object): Promise<Issue[]> {
  const file = join(home, 'bad.json');
  writeFileSync(file, JSON.stringify(config));
  const r = await ham(home, ['--json', 'apply', '-f', file]);
  if (r.code !== 1) throw new Error(`apply was to be refused (exit 1), it exited ${r.code}: ${r.stdout}${r.stderr}`);
  return (JSON.parse(r.stdout) as { error: { issues: Issue[] } }).error.issues;
}

/** Status over the socket, in this process (polling through the CLI would load the machine). */
export async function status(home: string): Promise<StatusView> {
  const c = await Connection.open(join(home, 'ham.sock'), 2000);
  try {
    return await statusAll(c, undefined, 5000); // in pages, as the CLI does
  } finally {
    c.close();
  }
}

/** Status, or undefined while nothing answers (e.g. mid-takeover). */
export async function tryStatus(home: string): Promise<StatusView | undefined> {
  try {
    return await status(home);
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns a truthy value; fail with `what` at the deadline. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(everyMs);
  }
}

/** Wait until status satisfies `ok` and return it. */
export function waitStatus(home: string, what: string, ok: (s: StatusView) => boolean, timeoutMs = 20_000): Promise<StatusView> {
  const poll = async (): Promise<StatusView | undefined> => {
    const s = await tryStatus(home);
    return s && ok(s) ? s : undefined;
  };
  return waitFor(what, poll, timeoutMs, 50);
}

/** A hang threshold for tests that do not test hangs: a stall on a busy machine is not a takeover. */
export const CALM = ['--hang-ms', '3000'];

/** Live, non-zombie entity processes whose command line holds `marker` (keepers excluded). */
export function procsWith(marker: string): number[] {
  return findProcesses((argv) => argv.includes(marker) && !isKeeperArgv(argv));
}

/** Live keepers of entities whose command line holds `marker` (in the arguments the keeper was started with: its title hides them). */
export function keepersWith(marker: string): number[] {
  return keeperProcesses()
    .filter((k) => k.argv.includes(marker))
    .map((k) => k.pid);
}

/**
 * The daemons (HAM and Guardian) of a home. A daemon spawning a program (a
 * keeper, its pair watch) forks first: until the exec, the child shows the
 * daemon's command line, but it has one thread, and a running Node has several.
 */
export function daemons(home: string): number[] {
  return findProcesses((argv) => isDaemonArgv(argv, home)).filter((pid) => threads(pid) > 1);
}

function threads(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[17]);
  } catch {
    return 0;
  }
}

/** A single-process entity that sleeps; `marker` makes it countable. */
export function sleeper(marker: string): string[] {
  return ['perl', '-e', 'sleep 100000', marker];
}

export interface TestHome {
  home: string;
  /**
   * Kill every process that mentions the home (daemons, keepers, entities)
   * and remove it; after a failed test, print the daemon log's tail first.
   */
  cleanup(ctx?: { task: { name: string; result?: { state?: string } } }): void;
}

export function tempHome(): TestHome {
  const home = mkdtempSync(join(tmpdir(), 'ham-test-'));
  return {
    home,
    cleanup(ctx) {
      if (ctx?.task?.result?.state === 'fail') {
        try {
          const log = readFileSync(join(home, 'logs', 'ham.log'), 'utf8')
            .trim()
            .split('\n')
            .slice(-40)
            .join('\n');
          process.stderr.write(`--- ham.log of failed test "${ctx.task.name}" ---\n${log}\n---\n`);
        } catch {
          /* no log */
        }
      }
      killAll(home);
      rmSync(home, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/**
 * SIGKILL every process (and its group) whose command line mentions `needle`,
 * and every child of those (an entity's command line need not mention the home,
 * and it runs in its own process group under its keeper).
 */
export function killAll(needle: string): void {
  // Until a scan finds nothing: a keeper the launcher forked just before it died execs (and only
  // then names the home) a moment later.
  for (let round = 0; round < 20; round++) {
    const titled = keeperProcesses().filter((k) => k.argv.some((a) => a.includes(needle))); // a keeper's title does not name the home
    const marked = [...new Set([...findProcesses((argv) => argv.some((a) => a.includes(needle))), ...titled.map((k) => k.pid)])];
    const pids = [...marked, ...childrenOf(new Set(marked))];
    if (pids.length === 0) return;
    if (round > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
    // All frozen first, as a machine that dies stops everything at once: a keeper must not see its
    // entity killed a moment before itself and restart it (a new instance the loss never had).
    for (const pid of marked)
      try {
        process.kill(pid, 'SIGSTOP');
      } catch {
        /* gone */
      }
    for (const pid of pids) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch {
          /* gone or not a group leader */
        }
      }
      if (isStopped(pid)) {
        try {
          process.kill(pid, 'SIGCONT');
        } catch {
          /* gone */
        }
      }
    }
  }
}

/** One request over the socket, in this process. */
export async function request<T = unknown>(home: string, op: string, args: object): Promise<T> {
  const c = await Connection.open(join(home, 'ham.sock'), 2000);
  try {
    return (await c.request(op as never, args as never, 20_000)) as T;
  } finally {
    c.close();
  }
}

export interface TestEvent {
  seq: number;
  time: string;
  entity: string;
  condition: string;
  fired: { owner: string; condition: string }[];
  [k: string]: unknown;
}

export async function events(home: string, since = 0): Promise<TestEvent[]> {
  return (await request<{ events: TestEvent[] }>(home, 'events', { since })).events;
}

/** Lines of a file written by test actions (empty if it does not exist yet). */
export function lines(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}
