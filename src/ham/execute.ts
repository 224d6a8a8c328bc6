// The `execute` action: a command in its own process group, its output kept
// as an entity's is (logs/ENTITY%2FCONDITION/, src/logs/writer.ts). Past its timeout the group gets SIGTERM, then SIGKILL
// after a grace (a script that cleans up on TERM may); a failure carries what
// execa's errors carry: argv, exit code, signal, duration, timed out, and the
// tail of its stderr.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { STDERR_TAIL_MAX, type Failure } from '../errors.js';

/** The grace between SIGTERM and SIGKILL of a timed-out command, unless its action says `graceMs`. */
export const EXECUTE_GRACE_MS = 2000;

export interface ExecuteRun {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  graceMs: number;
  /** Where stdout (0) and stderr (1) go, as they come; end() once both closed. */
  output: { write(k: 0 | 1, chunk: Buffer): void; end(): void };
  /** Run as this user and group (README "Running as"); absent: as the HAM. */
  ids?: { uid: number; gid: number } | undefined;
  /** The child's pid, once it runs (the run record keeps it for a takeover). */
  onSpawn?: (pid: number) => void;
}

export type ExecuteResult = { ok: true } | { ok: false; error: string; failure: Failure };

/** The last `max` bytes seen, as text (a cut UTF-8 sequence at the start is dropped). */
class Tail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
    while (this.size - this.chunks[0]!.length >= this.max) this.size -= this.chunks.shift()!.length;
  }
  text(): string {
    const all = Buffer.concat(this.chunks);
    return all
      .subarray(Math.max(0, all.length - this.max))
      .toString('utf8')
      .replace(/^\uFFFD+/, '');
  }
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* the group is gone */
  }
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function execute(r: ExecuteRun): Promise<ExecuteResult> {
  return new Promise((done) => {
    const started = performance.now();
    const child = spawn(r.argv[0]!, r.argv.slice(1), {
      cwd: r.cwd,
      env: r.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(r.ids ? { uid: r.ids.uid, gid: r.ids.gid } : {}), // libuv drops the supplementary groups with them
    });
    // Both go to the log (a full disk never fails the action: the writer counts what it drops); stderr's tail is kept for a failure.
    const tail = new Tail(STDERR_TAIL_MAX);
    let open = 2;
    const closed = (): void => {
      if (--open === 0) r.output.end();
    };
    child.stdout!.on('data', (b: Buffer) => r.output.write(0, b));
    child.stderr!.on('data', (b: Buffer) => {
      tail.push(b);
      r.output.write(1, b);
    });
    for (const s of [child.stdout!, child.stderr!]) {
      s.once('close', closed);
      s.on('error', () => undefined); // its close follows
    }
    if (child.pid !== undefined) r.onSpawn?.(child.pid);
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid!, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(child.pid!, 'SIGKILL'), r.graceMs).unref();
    }, r.timeoutMs);
    const failure = (f: Partial<Failure>): Failure => ({
      argv: r.argv,
      exitCode: null,
      signal: null,
      durationMs: Math.round(performance.now() - started),
      timedOut,
      stderrTail: tail.text(),
      ...f,
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      const why = e.code ?? e.message;
      done({ ok: false, error: `cannot execute ${JSON.stringify(r.argv[0])}: ${why}`, failure: failure({ startError: why }) });
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      // A timed-out command's group is killed in full: what it left behind after TERM gets KILL at the grace's end
      // (no KILL is kept pending for a group already empty: its id could be taken by another).
      if (!timedOut || !groupAlive(child.pid!)) clearTimeout(killTimer);
      if (timedOut)
        return done({
          ok: false,
          error: `timed out after ${r.timeoutMs} ms; its process group was sent SIGTERM, then SIGKILL after ${r.graceMs} ms`,
          failure: failure({ exitCode: code, signal: sig }),
        });
      if (code === 0) return done({ ok: true });
      done({ ok: false, error: sig ? `killed by ${sig}` : `exited with code ${code}`, failure: failure({ exitCode: code, signal: sig }) });
    });
  });
}
