// The detector host, inside whichever process is the HAM (and taken over
// with it). It watches the detectors folder (folder.ts): an executable added
// is started, changed is restarted, removed is stopped, with no HAM restart.
// Checks run through the check runner, no fork of the HAM (check-loop.ts);
// streams are children of the HAM that die with it (stream-loop.ts).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HamError } from '../errors.js';
import type { Logger } from '../log.js';
import { isAlive } from '../proc/procfs.js';
import type { Occurrence } from '../model/conditions.js';
import type { DetectorState, DetectorsView } from '../protocol/views.js';
import type { Store } from '../store/store.js';
import { publish, runCheck } from './check-loop.js';
import { fileOrSidecarRefusal, FolderWatch, head, mtime, readSidecar } from './folder.js';
import { freshDetector, REFUSED_RETRY_MS, viewOf, type Detector, type HostContext } from './loaded.js';
import { CheckRunner, type CheckLog } from './runner.js';
import { DEFAULT_LOG_POLICY } from '../model/defaults.js';
import { detectorLogName, entityLogDir } from '../model/log-names.js';
import { LatencyRing } from '../latency.js';
import { folderRefusal } from './security.js';
import { pathProblem } from '../home-check.js';
import { readSpec, type DetectorSpec } from './spec.js';
import { killGroup, resumeStream } from './stream-loop.js';

/** What the host is handed of the HAM (the daemon wires it to the core): its one way to publish occurrences. */
export interface HamPort {
  /** A fenced write transaction (the HAM's). */
  write: <T>(fn: () => T) => T;
  occur: (o: Occurrence) => Promise<number>;
  entityPid: (name: string) => number | null;
}

export interface HostDeps extends HamPort {
  dir: string;
  home: string;
  /** The entities' base environment: checks and streams start from it too. */
  baseEnv: Record<string, string>;
  store: Store;
  log: Logger;
}

export class DetectorHost implements HostContext {
  private readonly detectors = new Map<string, Detector>();
  readonly runner = new CheckRunner();
  private watcher: FolderWatch | undefined;
  private readonly stateDir: string;
  private folderProblem: string | undefined;
  closed = false;
  /** Stream line read → its conditions fired (committed, runs started), for the benchmark and `stats`. */
  readonly streamLatency = new LatencyRing();
  /** Checks run and stream lines read since start. */
  checksRun = 0;

  constructor(readonly deps: HostDeps) {
    this.stateDir = join(deps.home, 'run', 'detectors');
  }

  /** Kill streams an earlier HAM left, then watch the folder (its current files are "added"). */
  start(): void {
    const d = this.deps;
    for (const [name, rec] of d.store.detectorRecords()) {
      if (rec.stream && isAlive(rec.stream)) {
        d.log('warn', 'killing a stream detector left by the previous HAM', { detector: name, pid: rec.stream.pid });
        killGroup(rec.stream.pid);
      }
    }
    // A detectors folder that cannot be used is reported; the HAM serves on without detectors.
    try {
      mkdirSync(d.dir, { recursive: true, mode: 0o700 });
      mkdirSync(this.stateDir, { recursive: true, mode: 0o700 });
    } catch (e) {
      this.folderProblem = `the detectors folder ${d.dir} cannot be used: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (set another with ham start --detectors DIR)`;
      d.log('error', 'detectors refused', { dir: d.dir, reason: this.folderProblem });
      return;
    }
    this.folderProblem = folderRefusal(d.dir);
    if (this.folderProblem) d.log('error', 'detectors refused', { dir: d.dir, reason: this.folderProblem });
    this.watcher = new FolderWatch(d.dir, d.log, (name) => this.reload(name));
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    for (const det of this.detectors.values()) this.stop(det);
    this.runner.close();
  }

  view(): DetectorsView {
    const out = [...this.detectors.values()].sort((a, b) => a.name.localeCompare(b.name)).map((x) => viewOf(x));
    return { dir: this.deps.dir, refused: this.folderProblem ?? null, detectors: out };
  }

  // ---- loading --------------------------------------------------------------

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
  safely<A extends unknown[]>(det: Detector, fn: (...a: A) => void): (...a: A) => void {
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
    if (det.reason !== why)
      this.deps.log('error', 'detector failed in the host: refused, loaded again later', { detector: det.name, error: why, stack: (e as Error).stack });
    this.stop(det);
    det.state = 'refused';
    det.reason = why; // logged above, with the stack
    det.timer = setTimeout(() => {
      if (this.detectors.get(det.name) === det) this.reload(det.name);
    }, REFUSED_RETRY_MS);
  }

  private load(name: string): void {
    const d = this.deps;
    const path = join(d.dir, name);
    const old = this.detectors.get(name);
    if (old) this.stop(old);
    if (!existsSync(path)) {
      if (old) {
        this.detectors.delete(name);
        this.forget(name);
        d.log('info', 'detector removed: stopped', { detector: name });
      }
      return;
    }
    const det = freshDetector(name, path, old);
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
      det.spec = readSpec(head(path), readSidecar(d.dir, name));
    } catch (e) {
      return this.refuse(det, HamError.from(e).message, 'misconfigured');
    }
    const saved = d.store.detectorRecord(name);
    const unchanged = saved && saved.mtimeMs === mtime(path) ? saved : undefined;
    // A check keeps its streak across a takeover, a stream its backoff; an edited one starts afresh.
    if (unchanged) {
      det.check = { failures: unchanged.failures, raised: unchanged.raised, misconfigured: unchanged.misconfigured ?? 0 };
      det.episode = unchanged.episode ?? 0;
      // Decided by the previous HAM, perhaps not published: publish (its key makes it happen once).
      if (unchanged.outbox) publish(this, det, unchanged.outbox);
    } else if (saved?.episode) det.episode = saved.episode;
    d.log('info', old ? 'detector changed: restarted' : 'detector added: started', { detector: name, ...det.spec });
    if (det.spec.kind === 'check') runCheck(this, det, det.gen);
    else resumeStream(this, det, unchanged);
  }

  /** Judged before every run: the folder and those above it, the file, its sidecar, its state folder. */
  judge(det: Detector): string | undefined {
    try {
      this.folderProblem = folderRefusal(this.deps.dir);
      if (this.folderProblem) return this.folderProblem;
      const file = fileOrSidecarRefusal(det.path);
      if (file) return file;
      const state = pathProblem(this.stateDir, 'folder') ?? pathProblem(join(this.stateDir, det.name), 'folder');
      return state && `its state folder is refused: ${state.message}`;
    } catch (e) {
      // A folder that cannot even be examined (EACCES, ENOTDIR, ELOOP) refuses the detector, as any other problem.
      return `its state folder is refused: ${HamError.from(e).message}`;
    }
  }

  refuse(det: Detector, reason: string, state: DetectorState = 'refused'): void {
    const again = det.reason === reason;
    det.state = state;
    det.reason = reason;
    if (!again) this.deps.log('error', `detector ${state}: not run`, { detector: det.name, reason });
  }

  stop(det: Detector): void {
    det.gen += 1;
    clearTimeout(det.timer);
    det.timer = undefined;
    clearInterval(det.judgeTimer);
    det.judgeTimer = undefined;
    if (det.child?.pid) killGroup(det.child.pid);
    det.child = undefined;
  }

  private forget(name: string): void {
    const { store, write } = this.deps;
    if (store.detectorRecord(name)) write(() => store.removeDetectorRecord(name));
  }

  output(det: Detector): CheckLog {
    const entity = det.spec?.entity ? this.deps.store.entity(det.spec.entity) : undefined;
    const policy = entity?.logs ?? DEFAULT_LOG_POLICY;
    return {
      dir: entityLogDir(join(this.deps.home, 'logs'), detectorLogName(det.name)),
      maxBytes: policy.maxBytes,
      keep: policy.keep,
      instance: entity?.instance ?? 0,
    };
  }

  env(det: Detector): Record<string, string> {
    const spec = det.spec!;
    const d = this.deps;
    const pid = spec.entity ? d.entityPid(spec.entity) : null;
    const dir = join(this.stateDir, det.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return {
      LANG: 'C',
      ...d.baseEnv,
      ...spec.env,
      HAM_HOME: d.home,
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
}
