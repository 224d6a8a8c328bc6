// The detector host, inside whichever process is the HAM (and taken over
// with it). chokidar watches the detectors folder: an executable added is
// started, changed is restarted, removed is stopped, with no HAM restart.
// Checks run through the check runner (no fork of the HAM); streams are
// children of the HAM that die with it (setpriv's parent-death signal), and
// their pids are in the store so a new HAM kills any that outlived the old.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { HamError, type Failure } from '../errors.js';
import { failpoint } from '../failpoints.js';
import type { Logger } from '../log.js';
import { isAlive, procId } from '../proc/procfs.js';
import type { Occurrence } from '../store/model.js';
import type { DetectorRecord, Store } from '../store/store.js';
import { checkFailure, describeResult, FRESH, MISCONFIGURED_TRIES, nextDelay, step, verdict, type CheckState } from './check.js';
import { CheckRunner, type CheckResult } from './runner.js';
import { LatencyRing } from '../ham/executor.js';
import { fileRefusal, folderRefusal } from './security.js';
import { pathProblem } from '../home-check.js';
import { readSpec, type DetectorSpec } from './spec.js';
import { LineSplitter, parseLine, RateLimit, type StreamEvent } from './stream.js';

export type DetectorState = 'starting' | 'running' | 'healthy' | 'failing' | 'misconfigured' | 'refused' | 'crashed';

export interface DetectorView {
  name: string;
  path: string;
  kind: DetectorSpec['kind'] | null;
  entity: string | null;
  state: DetectorState;
  intervalMs: number | null;
  timeoutMs: number | null;
  tries: number | null;
  runs: number;
  /** Consecutive failures (checks). */
  failures: number;
  lastResult: string | null;
  /** The last unhealthy result as data (argv, exitCode, signal, durationMs, timedOut, lastLine); null once healthy. */
  lastFailure: Failure | null;
  lastAt: string | null;
  /** Why it is refused or not run. */
  reason: string | null;
  pid: number | null;
  /** Stream lines that were not events, and events dropped over the rate. */
  badLines: number;
  dropped: number;
}

export interface HostDeps {
  dir: string;
  home: string;
  /** The entities' base environment: checks and streams start from it too. */
  baseEnv: Record<string, string>;
  store: Store;
  log: Logger;
  /** A fenced write transaction (the HAM's). */
  write: <T>(fn: () => T) => T;
  occur: (o: Occurrence) => Promise<number>;
  entityPid: (name: string) => number | null;
}

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const SIDECAR = '.ham.json';
const IGNORED = /(^\.|~$|\.swp$|\.tmp$|\.md$|\.txt$)/;
const RELOAD_DEBOUNCE_MS = 30;
const STREAM_BACKOFF_MS = 100;
const STREAM_BACKOFF_MAX_MS = 30_000;
const STREAM_STABLE_MS = 10_000;
/** Bad stream lines logged in full per detector; after that they are only counted. */
const BAD_LINES_LOGGED = 5;
/** A refused detector is judged again this often (checks: at their interval), and runs once the problem is fixed. */
const REFUSED_RETRY_MS = 1000;

interface Detector {
  name: string;
  path: string;
  spec: DetectorSpec | null;
  state: DetectorState;
  reason: string | null;
  runs: number;
  check: CheckState;
  episode: number;
  lastResult: string | null;
  lastFailure: Failure | null;
  lastAt: number | null;
  lastCode: number | null;
  timer: NodeJS.Timeout | undefined;
  /** A running stream is judged again this often (it has no runs to judge it at). */
  judgeTimer: NodeJS.Timeout | undefined;
  child: ChildProcess | undefined;
  crashes: number;
  badLines: number;
  dropped: number;
  /** Bumped at every (re)load and stop: callbacks of an older generation are ignored. */
  gen: number;
}

export class DetectorHost {
  private readonly detectors = new Map<string, Detector>();
  private readonly reloads = new Map<string, NodeJS.Timeout>();
  private readonly runner = new CheckRunner();
  private watcher: FSWatcher | undefined;
  private readonly stateDir: string;
  private folderProblem: string | undefined;
  private closed = false;
  /** Stream line read → its conditions fired (committed, runs started), for the benchmark and `stats`. */
  readonly streamLatency = new LatencyRing();
  /** Checks run and stream lines read since start. */
  checksRun = 0;

  constructor(private readonly d: HostDeps) {
    this.stateDir = join(d.home, 'run', 'detectors');
  }

  /** Kill streams an earlier HAM left, then watch the folder (its current files are "added"). */
  start(): void {
    for (const [name, rec] of this.d.store.detectorRecords()) {
      if (rec.stream && isAlive(rec.stream)) {
        this.d.log('warn', 'killing a stream detector left by the previous HAM', { detector: name, pid: rec.stream.pid });
        killGroup(rec.stream.pid);
      }
    }
    // A detectors folder that cannot be used is reported; the HAM serves on without detectors.
    try {
      mkdirSync(this.d.dir, { recursive: true, mode: 0o700 });
      mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      this.folderProblem = `the detectors folder ${this.d.dir} cannot be used: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (set another with ham start --detectors DIR)`;
      this.d.log('error', 'detectors refused', { dir: this.d.dir, reason: this.folderProblem });
      return;
    }
    this.folderProblem = folderRefusal(this.d.dir);
    if (this.folderProblem) this.d.log('error', 'detectors refused', { dir: this.d.dir, reason: this.folderProblem });
    this.watcher = watch(this.d.dir, { depth: 0, ignoreInitial: false, persistent: true, ignored: (p: string) => p !== this.d.dir && IGNORED.test(basename(p)) });
    const touched = (p: string): void => this.touched(p);
    this.watcher.on('add', touched).on('change', touched).on('unlink', touched);
    this.watcher.on('error', (e) => this.d.log('error', 'watching the detectors folder failed', { dir: this.d.dir, error: (e as Error).message }));
  }

  close(): void {
    this.closed = true;
    void this.watcher?.close();
    for (const t of this.reloads.values()) clearTimeout(t);
    for (const det of this.detectors.values()) this.stop(det);
    this.runner.close();
  }

  view(): { dir: string; refused: string | null; detectors: DetectorView[] } {
    const out = [...this.detectors.values()].sort((a, b) => a.name.localeCompare(b.name)).map((x) => this.viewOf(x));
    return { dir: this.d.dir, refused: this.folderProblem ?? null, detectors: out };
  }

  // ---- files ----------------------------------------------------------------

  private touched(path: string): void {
    const file = basename(path);
    const name = file.endsWith(SIDECAR) ? file.slice(0, -SIDECAR.length) : file;
    if (!name) return;
    // Editors write in several steps: settle first, then load once.
    clearTimeout(this.reloads.get(name));
    this.reloads.set(
      name,
      setTimeout(() => {
        this.reloads.delete(name);
        this.reload(name);
      }, RELOAD_DEBOUNCE_MS),
    );
  }

  private reload(name: string): void {
    if (this.closed) return;
    try {
      this.load(name);
    } catch (e) {
      // A file that changed under us (gone, unreadable): reported, never fatal.
      const det = this.detectors.get(name);
      if (det) this.failed(det, e, 'it could not be loaded');
    }
  }

  /**
   * `fn` for a timer or callback of `det`: whatever it throws is logged and
   * refuses the detector (loaded again later), and never reaches the process
   * (an uncaught exception would end the HAM, and every HAM after it).
   */
  private safely<A extends unknown[]>(det: Detector, fn: (...a: A) => void): (...a: A) => void {
    return (...a: A) => {
      try {
        fn(...a);
      } catch (e) {
        this.failed(det, e, 'the host failed on it');
      }
    };
  }

  /** Stopped, refused with the error, and loaded again in a while. */
  private failed(det: Detector, e: unknown, what: string): void {
    if (this.closed) return;
    const why = `${what}: ${HamError.from(e).message}`;
    if (det.reason !== why) this.d.log('error', 'detector failed in the host: refused, loaded again later', { detector: det.name, error: why, stack: (e as Error).stack });
    this.stop(det);
    det.state = 'refused';
    det.reason = why; // logged above, with the stack
    det.timer = setTimeout(() => {
      if (this.detectors.get(det.name) === det) this.reload(det.name);
    }, REFUSED_RETRY_MS);
  }

  private load(name: string): void {
    const path = join(this.d.dir, name);
    const old = this.detectors.get(name);
    if (old) this.stop(old);
    if (!existsSync(path)) {
      if (old) {
        this.detectors.delete(name);
        this.forget(name);
        this.d.log('info', 'detector removed: stopped', { detector: name });
      }
      return;
    }
    const det: Detector = {
      name,
      path,
      spec: null,
      state: 'starting',
      reason: old?.state === 'refused' ? old.reason : null, // an unchanged refusal is not logged again
      runs: 0,
      check: { ...FRESH },
      episode: 0,
      lastResult: null,
      lastFailure: null,
      lastAt: null,
      lastCode: null,
      timer: undefined,
      judgeTimer: undefined,
      child: undefined,
      crashes: 0,
      badLines: 0,
      dropped: 0,
      gen: (old?.gen ?? 0) + 1,
    };
    this.detectors.set(name, det);
    const refused = this.judge(det);
    if (refused) {
      this.refuse(det, refused);
      det.timer = setTimeout(() => {
        if (this.detectors.get(name) === det) this.reload(name);
      }, REFUSED_RETRY_MS);
      return;
    }
    try {
      det.spec = readSpec(head(path), this.sidecar(name));
    } catch (e) {
      return this.refuse(det, HamError.from(e).message, 'misconfigured');
    }
    const saved = this.d.store.detectorRecord(name);
    // A check keeps its streak across a takeover; an edited one starts afresh.
    if (saved && saved.mtimeMs === mtime(path)) {
      det.check = { failures: saved.failures, raised: saved.raised, misconfigured: saved.misconfigured ?? 0 };
      det.episode = saved.episode ?? 0;
      // Decided by the previous HAM, perhaps not published: publish (its key makes it happen once).
      if (saved.outbox) this.publish(det, saved.outbox);
    } else if (saved?.episode) det.episode = saved.episode;
    this.d.log('info', old ? 'detector changed: restarted' : 'detector added: started', { detector: name, ...det.spec });
    if (det.spec.kind === 'check') this.runCheck(det, det.gen);
    else this.startStream(det, det.gen);
  }

  /** Judged before every run: the folder and those above it, the file, its sidecar, its state folder. */
  private judge(det: Detector): string | undefined {
    try {
      this.folderProblem = folderRefusal(this.d.dir);
      if (this.folderProblem) return this.folderProblem;
      const file = this.refusal(det.path);
      if (file) return file;
      const state = pathProblem(this.stateDir, 'folder') ?? pathProblem(join(this.stateDir, det.name), 'folder');
      return state && `its state folder is refused: ${state.message}`;
    } catch (e) {
      // A folder that cannot even be examined (EACCES, ENOTDIR, ELOOP) refuses the detector, as any other problem.
      return `its state folder is refused: ${HamError.from(e).message}`;
    }
  }

  private refusal(path: string): string | undefined {
    const file = fileRefusal(path);
    if (file) return file;
    const side = `${path}${SIDECAR}`;
    if (existsSync(side)) {
      const why = fileRefusal(side, false);
      if (why) return `its sidecar ${basename(side)} is refused: ${why}`;
    }
    return undefined;
  }

  private sidecar(name: string): string | undefined {
    const side = join(this.d.dir, `${name}${SIDECAR}`);
    return existsSync(side) ? readFileSync(side, 'utf8').slice(0, 64 * 1024) : undefined;
  }

  private refuse(det: Detector, reason: string, state: DetectorState = 'refused'): void {
    const again = det.reason === reason;
    det.state = state;
    det.reason = reason;
    if (!again) this.d.log('error', `detector ${state}: not run`, { detector: det.name, reason });
  }

  private stop(det: Detector): void {
    det.gen += 1;
    clearTimeout(det.timer);
    det.timer = undefined;
    clearInterval(det.judgeTimer);
    det.judgeTimer = undefined;
    if (det.child?.pid) killGroup(det.child.pid);
    det.child = undefined;
  }

  private forget(name: string): void {
    if (this.d.store.detectorRecord(name)) this.d.write(() => this.d.store.removeDetectorRecord(name));
  }

  private env(det: Detector): Record<string, string> {
    const spec = det.spec!;
    const pid = spec.entity ? this.d.entityPid(spec.entity) : null;
    const dir = join(this.stateDir, det.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return {
      LANG: 'C',
      ...this.d.baseEnv,
      ...spec.env,
      HAM_HOME: this.d.home,
      HAM_DETECTOR: det.name,
      HAM_ENTITY: spec.entity ?? '',
      HAM_PID: pid === null ? '' : String(pid),
      HAM_LAST_RESULT: det.lastCode === null ? '' : String(det.lastCode),
      HAM_FAILURES: String(det.check.failures),
      HAM_STATE_DIR: dir,
      // So a check can give up (and say why) before the host kills it.
      HAM_TIMEOUT_MS: spec.kind === 'check' ? String(spec.timeoutMs) : '',
      HAM_INTERVAL_MS: spec.kind === 'check' ? String(spec.intervalMs) : '',
    };
  }

  // ---- checks ---------------------------------------------------------------

  private runCheck(det: Detector, gen: number): void {
    const spec = det.spec!;
    const started = performance.now();
    // Judged again at every run: a file or folder made writable by others since it was loaded is not run.
    const refused = this.judge(det);
    if (refused) {
      this.refuse(det, refused);
      det.timer = setTimeout(this.safely(det, () => this.runCheck(det, gen)), spec.intervalMs);
      return;
    }
    this.runner.run([det.path, ...spec.args], this.env(det), spec.timeoutMs).then(
      this.safely(det, (r: CheckResult) => {
        if (det.gen !== gen) return;
        this.checked(det, r);
        const delay = nextDelay(spec, det.check);
        if (delay === null) return; // misconfigured too many times: not run again until the file changes
        det.timer = setTimeout(this.safely(det, () => this.runCheck(det, gen)), Math.max(0, delay - (performance.now() - started)));
      }),
      this.safely(det, (e: Error) => {
        if (det.gen !== gen || this.closed) return;
        det.lastResult = `not run: ${e.message}`;
        det.lastAt = Date.now();
        det.timer = setTimeout(this.safely(det, () => this.runCheck(det, gen)), spec.intervalMs);
      }),
    );
  }

  private checked(det: Detector, r: CheckResult): void {
    const spec = det.spec!;
    const v = verdict(r);
    det.runs += 1;
    this.checksRun += 1;
    det.lastCode = r.code;
    det.lastAt = Date.now();
    det.lastResult = describeResult(r, spec.timeoutMs);
    det.lastFailure = checkFailure([det.path, ...spec.args], r);
    const before = det.check;
    const { next, out } = step(spec, before, v, r.code);
    det.check = next;
    det.state = v === 'misconfigured' ? 'misconfigured' : v === 'healthy' ? 'healthy' : 'failing';
    const gaveUp = nextDelay(spec, next) === null;
    det.reason = v !== 'misconfigured' ? null : gaveUp ? `misconfigured ${MISCONFIGURED_TRIES} times in a row (${det.lastResult}); fix it and save the file to run it again` : `the check says it is misconfigured (${det.lastResult}); retrying with growing delays`;
    if (v === 'misconfigured') this.d.log('error', gaveUp ? 'detector misconfigured: not run again until its file changes' : 'detector misconfigured', { detector: det.name, result: det.lastResult });
    const entity = spec.entity!;
    let o: Occurrence | null = null;
    if (out.publish === 'raise') {
      det.episode += 1;
      this.d.log('warn', out.class === 'detector' ? `detector failed ${next.failures} times in a row: raising` : 'detector misconfigured: raising', { detector: det.name, entity, result: det.lastResult });
      o = { entity, type: 'raise', raise: { type: det.name, class: out.class, severity: out.severity }, detail: det.lastResult, ...(det.lastFailure ? { failure: det.lastFailure } : {}), key: `detector:${det.name}:${det.episode}:raise` };
    } else if (out.publish === 'recovered') {
      this.d.log('info', 'detector healthy again', { detector: det.name, entity });
      o = { entity, type: 'state', state: { from: null, to: 'healthy' }, detail: `${det.name}: ${det.lastResult}`, key: `detector:${det.name}:${det.episode}:healthy` };
    }
    if (o || next.failures !== before.failures || next.raised !== before.raised || next.misconfigured !== before.misconfigured) {
      // The decision and the event to publish are written first: a HAM killed in between publishes it after a takeover.
      // An earlier event still being published stays in the outbox until it is (a newer one replaces it: episodes are ordered).
      const pending = o ?? this.d.store.detectorRecord(det.name)?.outbox ?? null;
      const rec: DetectorRecord = { failures: next.failures, raised: next.raised, misconfigured: next.misconfigured, episode: det.episode, outbox: pending, mtimeMs: mtime(det.path), stream: null };
      this.d.write(() => this.d.store.putDetectorRecord(det.name, rec));
    }
    if (o) failpoint('detector-decided'); // crash tests: decided and written, not yet published
    if (o) this.publish(det, o);
  }

  private publish(det: Detector, o: Occurrence): void {
    this.d.occur(o).then(
      () => {
        const rec = this.d.store.detectorRecord(det.name);
        if (rec && rec.outbox?.key === o.key) this.d.write(() => this.d.store.putDetectorRecord(det.name, { ...rec, outbox: null }));
      },
      (e: unknown) => {
        det.reason = `could not publish to ${JSON.stringify(o.entity)}: ${HamError.from(e).message}`;
        this.d.log('warn', 'detector event not published', { detector: det.name, reason: det.reason });
      },
    );
  }

  // ---- streams --------------------------------------------------------------

  private startStream(det: Detector, gen: number): void {
    const spec = det.spec!;
    const refused = this.judge(det);
    if (refused) {
      this.refuse(det, refused);
      det.timer = setTimeout(this.safely(det, () => this.startStream(det, gen)), REFUSED_RETRY_MS);
      return;
    }
    const argv = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', det.path, ...spec.args] : [det.path, ...spec.args];
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: this.env(det), cwd: this.d.home });
    } catch (e) {
      return this.streamEnded(det, gen, `could not start: ${(e as Error).message}`, 0);
    }
    const startedAt = performance.now();
    det.child = child;
    det.state = 'running';
    det.reason = null;
    det.judgeTimer = setInterval(this.safely(det, () => {
      const why = det.gen === gen ? this.judge(det) : undefined;
      if (!why) return;
      this.stop(det); // killed: what runs it (its file, its folders) may no longer be what we judged
      this.refuse(det, why);
      const next = det.gen;
      det.timer = setTimeout(this.safely(det, () => this.startStream(det, next)), REFUSED_RETRY_MS);
    }), REFUSED_RETRY_MS);
    const id = child.pid ? procId(child.pid) : undefined;
    if (id) this.d.write(() => this.d.store.putDetectorRecord(det.name, { failures: 0, raised: false, mtimeMs: mtime(det.path), stream: id }));
    const lines = new LineSplitter();
    const rate = new RateLimit();
    let errTail = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', this.safely(det, (chunk: string) => {
      if (det.gen !== gen) return;
      const seen = performance.now();
      lines.push(chunk, (line) => this.streamLine(det, line, rate, seen));
      det.dropped = rate.dropped + lines.tooLong;
      if (rate.empty()) {
        // Over its rate: stop reading for a while; the pipe fills and the detector waits on its writes.
        child.stdout!.pause();
        setTimeout(() => child.stdout!.resume(), 100).unref();
      }
    }));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      errTail = (errTail + chunk).slice(-1024);
    });
    child.on('error', this.safely(det, (e: Error) => this.streamEnded(det, gen, `could not start: ${e.message}`, 0)));
    child.on('exit', this.safely(det, (code: number | null, sig: NodeJS.Signals | null) => {
      const last = errTail.split('\n').filter((l) => l.trim()).pop();
      this.streamEnded(det, gen, `exited ${sig ? `on ${sig}` : `with code ${code}`}${last ? `: ${last.slice(0, 300)}` : ''}`, performance.now() - startedAt);
    }));
  }

  private streamLine(det: Detector, line: string, rate: RateLimit, seen: number): void {
    // The rate first: a flood costs a counter per line, not a JSON parse.
    if (!rate.take()) {
      if (rate.dropped === 1 || rate.dropped % 10_000 === 0) this.d.log('warn', 'stream detector over its rate: lines dropped', { detector: det.name, dropped: rate.dropped });
      return;
    }
    const p = parseLine(line);
    if ('error' in p) return this.badLine(det, p.error);
    const ev: StreamEvent = p.event;
    const entity = ev.entity ?? det.spec!.entity;
    if (!entity) return this.badLine(det, 'expected "entity" in the line (the detector has no entity= of its own)');
    det.runs += 1;
    det.lastAt = Date.now();
    det.lastResult = line.slice(0, 200);
    const detail = `from detector ${det.name}${ev.detail ? `: ${ev.detail}` : ''}`;
    const o: Occurrence = 'raise' in ev ? { entity, type: 'raise', raise: ev.raise, detail } : { entity, type: 'state', state: { from: null, to: ev.state }, detail };
    this.d.occur(o).then(
      () => this.streamLatency.add(performance.now() - seen),
      (e: unknown) => this.badLine(det, HamError.from(e).message),
    );
  }

  private badLine(det: Detector, why: string): void {
    det.badLines += 1;
    det.reason = `bad line: ${why}`;
    if (det.badLines <= BAD_LINES_LOGGED) this.d.log('warn', 'stream detector printed a bad line', { detector: det.name, error: why });
    else if (det.badLines % 10_000 === 0) this.d.log('warn', 'stream detector keeps printing bad lines', { detector: det.name, badLines: det.badLines });
  }

  private streamEnded(det: Detector, gen: number, why: string, ranMs: number): void {
    if (det.gen !== gen || this.closed) return;
    det.gen += 1; // exactly one end per start (error and exit may both come)
    clearInterval(det.judgeTimer);
    det.judgeTimer = undefined;
    det.child = undefined;
    det.state = 'crashed';
    det.lastResult = why;
    det.lastAt = Date.now();
    if (ranMs >= STREAM_STABLE_MS) det.crashes = 0;
    const delay = Math.min(STREAM_BACKOFF_MS * 2 ** det.crashes, STREAM_BACKOFF_MAX_MS);
    det.crashes += 1;
    det.reason = `restarting in ${delay} ms`;
    this.d.log('warn', 'stream detector ended: restarting with backoff', { detector: det.name, why, delayMs: delay });
    const next = det.gen;
    det.timer = setTimeout(this.safely(det, () => this.startStream(det, next)), delay);
  }

  private viewOf(x: Detector): DetectorView {
    return {
      name: x.name,
      path: x.path,
      kind: x.spec?.kind ?? null,
      entity: x.spec?.entity ?? null,
      state: x.state,
      intervalMs: x.spec?.kind === 'check' ? x.spec.intervalMs : null,
      timeoutMs: x.spec?.kind === 'check' ? x.spec.timeoutMs : null,
      tries: x.spec?.kind === 'check' ? x.spec.tries : null,
      runs: x.runs,
      failures: x.check.failures,
      lastResult: x.lastResult,
      lastFailure: x.lastFailure,
      lastAt: x.lastAt === null ? null : new Date(x.lastAt).toISOString(),
      reason: x.reason,
      pid: x.child?.pid ?? null,
      badLines: x.badLines,
      dropped: x.dropped,
    };
  }
}

/** The first bytes of a file: enough for its header. */
function head(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

function mtime(path: string): number {
  try {
    return Math.round(statSync(path).mtimeMs);
  } catch {
    return 0;
  }
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
