// The HAM's side of the check runner (runner.pl): one small Perl process that
// forks the checks, so a HAM running hundreds of checks a second never forks
// itself for them. Requests and answers are lines; a runner that dies fails
// the checks in flight (as failures of the runner, not of the checks) and is
// started again for the next one.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { HamError } from '../errors.js';
import { RUNNER_SCRIPT } from '../paths.js';

export interface CheckResult {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  ms: number;
  timedOut: boolean;
  /** The last non-empty line it printed (stdout and stderr: two pipes, stdout read first when both wait), at most 512 bytes. */
  last: string;
}

/** Where the runner keeps a check's stdout and stderr (runner-log.pl): its log folder, its bounds, whose instance. */
export interface CheckLog {
  dir: string;
  maxBytes: number;
  keep: number;
  instance: number;
}

const esc = (s: string): string => s.replace(/%/g, '%25').replace(/\t/g, '%09').replace(/\n/g, '%0A');
const unesc = (s: string): string => s.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
/** How long past a check's timeout the runner may take to answer before it is taken for wedged. */
const WEDGED_MS = 5000;
const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n as number, name]));

export class CheckRunner {
  private proc: ChildProcess | undefined;
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: CheckResult) => void; reject: (e: Error) => void }>();
  private closed = false;

  /** Run `argv` (no shell) with exactly `env`, killed with its group after `timeoutMs`; its output kept in `log`. */
  run(argv: string[], env: Record<string, string>, timeoutMs: number, log?: CheckLog): Promise<CheckResult> {
    if (this.closed) return Promise.reject(new HamError({ code: 'stopping', message: 'the check runner is closed' }));
    const p = this.ensure();
    const id = this.nextId++;
    const envList = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const logFields = log ? [log.dir, String(log.maxBytes), String(log.keep), String(log.instance)] : [];
    const line = [String(id), String(timeoutMs), String(argv.length), ...argv, String(envList.length), ...envList, ...logFields].map(esc).join('\t');
    return new Promise((resolve, reject) => {
      // The runner kills a check at its timeout and answers; no answer well after that means the
      // runner itself is wedged: kill it (the checks in flight fail) and the next run starts a new one.
      const watchdog = setTimeout(() => {
        if (this.pending.has(id) && this.proc === p) p.kill('SIGKILL');
      }, timeoutMs + WEDGED_MS);
      watchdog.unref();
      this.pending.set(id, {
        resolve: (r) => (clearTimeout(watchdog), resolve(r)),
        reject: (e) => (clearTimeout(watchdog), reject(e)),
      });
      p.stdin!.write(`${line}\n`);
    });
  }

  close(): void {
    this.closed = true;
    this.proc?.stdin?.end(); // the runner kills what it runs and exits
    this.proc = undefined;
    this.failAll(new HamError({ code: 'stopping', message: 'the check runner was closed' }));
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    const p = spawn('perl', [RUNNER_SCRIPT], { stdio: ['pipe', 'pipe', 'inherit'], env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' } });
    this.proc = p;
    p.stdout!.setEncoding('latin1');
    p.stdout!.on('data', (d: string) => this.receive(d));
    p.stdin!.on('error', () => undefined);
    const gone = (e: HamError): void => {
      if (this.proc !== p) return;
      this.proc = undefined;
      this.buf = '';
      this.failAll(e);
    };
    p.on('error', (e) => gone(new HamError({ code: 'spawn-failed', message: `the check runner could not start: ${e.message}` })));
    p.on('exit', (code, sig) => gone(new HamError({ code: 'internal', message: `the check runner exited (${sig ?? code})`, exit: { code, signal: sig } })));
    return p;
  }

  private receive(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const [id, code, sig, ms, timedOut, last] = line.split('\t');
      const p = this.pending.get(Number(id));
      if (!p) continue;
      this.pending.delete(Number(id));
      p.resolve({
        code: code === '' ? null : Number(code),
        signal: sig === '' || sig === undefined ? null : (SIGNAL_NAMES.get(Number(sig)) ?? `signal ${sig}`),
        ms: Number(ms),
        timedOut: timedOut === '1',
        last: Buffer.from(unesc(last ?? ''), 'latin1').toString('utf8'),
      });
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
