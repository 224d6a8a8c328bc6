// Running the shipped detectors as the host does: without a shell, in a clean
// environment, in their own process group; and the real targets they check.
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DETECTORS = fileURLToPath(new URL('../../detectors/', import.meta.url));

export function detector(name: string): string {
  return join(DETECTORS, name);
}

/** The environment the host gives a check (see detectors/README.md). */
export function hostEnv(over: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LANG: 'C',
    HAM_HOME: '/nonexistent-ham-home',
    HAM_DETECTOR: 'test',
    HAM_ENTITY: 'web',
    HAM_PID: '',
    HAM_LAST_RESULT: '',
    HAM_FAILURES: '0',
    HAM_STATE_DIR: '',
    // A check's, at the host's defaults (a stream gets both empty).
    HAM_TIMEOUT_MS: '5000',
    HAM_INTERVAL_MS: '10000',
    // Not from the host: makes Perl print any warning, which the one-line
    // assertions then catch (the scripts do not enable warnings at run time).
    PERL5OPT: '-w',
    ...over,
  };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  return out;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Non-empty lines of stdout and stderr together. */
  lines: string[];
  /** The last of them: what the host keeps as "last result". */
  line: string;
  ms: number;
}

/** Runs a detector once, as a check, and collects what it said. */
export function run(name: string, args: string[], env: Record<string, string | undefined> = {}, timeoutMs = 15_000): Promise<Result> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(detector(name), args, { env: hostEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      if (child.pid) killGroup(child.pid);
      reject(new Error(`${name} ${args.join(' ')}: no exit within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const lines = (stdout + stderr).split('\n').filter((l) => l.trim() !== '');
      resolve({ code, signal, stdout, stderr, lines, line: lines.at(-1) ?? '', ms: performance.now() - t0 });
    });
  });
}

/** SIGKILL a process group we started (its leader's pid), quietly. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** Polls `cond` until it returns a value, or throws after `ms`. */
export async function waitFor<T>(what: string, cond: () => T | undefined | false | Promise<T | undefined | false>, ms = 10_000, every = 25): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The process state letter from /proc/PID/stat, undefined once it is gone. */
export function procState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/**
 * What a test started: processes (each the leader of its own group, killed
 * with its group) and temp dirs. `cleanup()` in afterEach, also on failure.
 */
export class Scope {
  private readonly procs: ChildProcess[] = [];
  private readonly dirs: string[] = [];

  tmp(prefix = 'ham-det-'): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  /** Spawns a target in its own process group; stdout piped, stderr ignored. */
  spawn(cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess & { pid: number } {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'], detached: true, ...opts });
    if (child.pid === undefined) throw new Error(`cannot spawn ${cmd}`);
    child.on('error', () => {});
    this.procs.push(child);
    return child as ChildProcess & { pid: number };
  }

  /** Resolves once the child has exited (and been reaped). */
  static exited(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => child.once('exit', () => r()));
  }

  /** Kills one child's group now and waits until it is reaped. */
  async kill(child: ChildProcess): Promise<void> {
    if (child.pid) killGroup(child.pid);
    await Scope.exited(child);
  }

  /** A line the child prints on stdout (e.g. "ready"), within `ms`. */
  static line(child: ChildProcess, match: RegExp, ms = 10_000): Promise<string> {
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`no line matching ${match} within ${ms} ms`)), ms);
      const onData = (d: Buffer) => {
        buf += d.toString('utf8');
        for (const l of buf.split('\n')) {
          if (match.test(l)) {
            clearTimeout(timer);
            child.stdout?.off('data', onData);
            resolve(l);
            return;
          }
        }
      };
      child.stdout?.on('data', onData);
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`exited before printing ${match}`));
      });
    });
  }

  async cleanup(): Promise<void> {
    for (const c of this.procs.splice(0)) {
      if (c.pid) killGroup(c.pid);
      await Promise.race([Scope.exited(c), sleep(5000)]);
    }
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
