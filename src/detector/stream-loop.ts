// Running a stream detector: a child of the HAM that dies with it (setpriv's
// parent-death signal), its pid in the store so a new HAM kills any that
// outlived the old; each stdout line is an event (stream.ts), read at a
// bounded rate; when it ends it is started again with growing delays.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { HamError, STDERR_TAIL_MAX, type Failure } from '../errors.js';
import { procId } from '../proc/procfs.js';
import type { Occurrence } from '../model/conditions.js';
import type { DetectorRecord } from '../store/store.js';
import { mtime } from './folder.js';
import { REFUSED_RETRY_MS, type Detector, type HostContext } from './loaded.js';
import { LineSplitter, parseLine, RateLimit, type StreamEvent } from './stream.js';
import { StreamStderr } from './stream-output.js';
import { StringDecoder } from 'node:string_decoder';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
const STREAM_BACKOFF_MS = 100;
const STREAM_BACKOFF_MAX_MS = 30_000;
const STREAM_STABLE_MS = 10_000;
/** Bad stream lines logged in full per detector; after that they are only counted. */
const BAD_LINES_LOGGED = 5;

export function startStream(host: HostContext, det: Detector, gen: number): void {
  const { store, write, home } = host.deps;
  const spec = det.spec!;
  const refused = host.judge(det);
  if (refused) {
    host.refuse(det, refused);
    det.timer = setTimeout(
      host.safely(det, () => startStream(host, det, gen)),
      REFUSED_RETRY_MS,
    );
    return;
  }
  const argv = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', det.path, ...spec.args] : [det.path, ...spec.args];
  // The detector's own argv (what the user wrote), not setpriv's wrapper around it.
  const shown = [det.path, ...spec.args];
  const notStarted = (e: Error): Failure => ({ argv: shown, exitCode: null, signal: null, startError: (e as NodeJS.ErrnoException).code ?? e.message });
  let child: ChildProcess;
  try {
    child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: host.env(det), cwd: home });
  } catch (e) {
    return streamEnded(host, det, gen, `could not start: ${(e as Error).message}`, 0, notStarted(e as Error));
  }
  const startedAt = performance.now();
  det.child = child;
  det.state = 'running';
  det.reason = null;
  det.judgeTimer = setInterval(
    host.safely(det, () => {
      if (det.gen === gen && det.crashes > 0 && performance.now() - startedAt >= STREAM_STABLE_MS) {
        det.crashes = 0; // it ran long enough: its next end starts the backoff afresh, also after a takeover
        det.lastFailure = null; // as a check's, once healthy again
        write(() =>
          store.putDetectorRecord(det.name, { failures: 0, raised: false, mtimeMs: mtime(det.path), stream: id ?? null, crashes: 0, restartAt: null }),
        );
      }
      const why = det.gen === gen ? host.judge(det) : undefined;
      if (!why) return;
      host.stop(det); // killed: what runs it (its file, its folders) may no longer be what we judged
      host.refuse(det, why);
      const next = det.gen;
      det.timer = setTimeout(
        host.safely(det, () => startStream(host, det, next)),
        REFUSED_RETRY_MS,
      );
    }),
    REFUSED_RETRY_MS,
  );
  const id = child.pid ? procId(child.pid) : undefined;
  if (id)
    write(() => store.putDetectorRecord(det.name, { failures: 0, raised: false, mtimeMs: mtime(det.path), stream: id, crashes: det.crashes, restartAt: null }));
  const lines = new LineSplitter();
  const rate = new RateLimit();
  let errTail = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on(
    'data',
    host.safely(det, (chunk: string) => {
      if (det.gen !== gen) return;
      const seen = performance.now();
      lines.push(chunk, (line) => streamLine(host, det, line, rate, seen));
      det.dropped = rate.dropped + lines.tooLong;
      if (rate.empty()) {
        // Over its rate: stop reading for a while; the pipe fills and the detector waits on its writes.
        child.stdout!.pause();
        setTimeout(() => child.stdout!.resume(), 100).unref();
      }
    }),
  );
  // Its stderr kept under NAME/=detector (stream-output.ts: at a bounded rate), its tail for the failure.
  const kept = new StreamStderr(host.output(det));
  const text = new StringDecoder('utf8');
  child.stderr!.on(
    'data',
    host.safely(det, (chunk: Buffer) => {
      errTail = (errTail + text.write(chunk)).slice(-STDERR_TAIL_MAX);
      if (kept.take(chunk)) return;
      child.stderr!.pause();
      setTimeout(() => child.stderr!.resume(), 100).unref();
    }),
  );
  child.stderr!.once('end', () => kept.end());
  child.on(
    'error',
    host.safely(det, (e: Error) => streamEnded(host, det, gen, `could not start: ${e.message}`, 0, notStarted(e))),
  );
  child.on(
    'exit',
    host.safely(det, (code: number | null, sig: NodeJS.Signals | null) => {
      const last = errTail
        .split('\n')
        .filter((l) => l.trim())
        .pop();
      const ranMs = performance.now() - startedAt;
      const failure: Failure = {
        argv: shown,
        exitCode: code,
        signal: sig,
        durationMs: Math.round(ranMs),
        timedOut: false, // a stream has no timeout: it is meant to run
        ...(errTail ? { stderrTail: errTail } : {}),
      };
      streamEnded(host, det, gen, `exited ${sig ? `on ${sig}` : `with code ${code}`}${last ? `: ${last.slice(0, 300)}` : ''}`, ranMs, failure);
    }),
  );
}

function streamLine(host: HostContext, det: Detector, line: string, rate: RateLimit, seen: number): void {
  // The rate first: a flood costs a counter per line, not a JSON parse.
  if (!rate.take()) {
    if (rate.dropped === 1 || rate.dropped % 10_000 === 0)
      host.deps.log('warn', 'stream detector over its rate: lines dropped', { detector: det.name, dropped: rate.dropped });
    return;
  }
  const p = parseLine(line);
  if ('error' in p) return badLine(host, det, p.error);
  const ev: StreamEvent = p.event;
  const entity = ev.entity ?? det.spec!.entity;
  if (!entity) return badLine(host, det, 'expected "entity" in the line (the detector has no entity= of its own)');
  det.runs += 1;
  det.lastAt = Date.now();
  det.lastResult = line.slice(0, 200);
  const detail = `from detector ${det.name}${ev.detail ? `: ${ev.detail}` : ''}`;
  const o: Occurrence =
    'raise' in ev ? { entity, type: 'raise', raise: ev.raise, detail } : { entity, type: 'state', state: { from: null, to: ev.state }, detail };
  host.deps.occur(o).then(
    () => host.streamLatency.add(performance.now() - seen),
    (e: unknown) => badLine(host, det, HamError.from(e).message),
  );
}

function badLine(host: HostContext, det: Detector, why: string): void {
  const { log } = host.deps;
  det.badLines += 1;
  det.reason = `bad line: ${why}`;
  if (det.badLines <= BAD_LINES_LOGGED) log('warn', 'stream detector printed a bad line', { detector: det.name, error: why });
  else if (det.badLines % 10_000 === 0) log('warn', 'stream detector keeps printing bad lines', { detector: det.name, badLines: det.badLines });
}

function streamEnded(host: HostContext, det: Detector, gen: number, why: string, ranMs: number, failure: Failure): void {
  if (det.gen !== gen || host.closed) return;
  det.gen += 1; // exactly one end per start (error and exit may both come)
  clearInterval(det.judgeTimer);
  det.judgeTimer = undefined;
  det.child = undefined;
  det.state = 'crashed';
  det.lastResult = why;
  det.lastFailure = failure;
  det.lastAt = Date.now();
  if (ranMs >= STREAM_STABLE_MS) det.crashes = 0;
  const delay = backoffMs(det.crashes);
  det.crashes += 1;
  // Kept in the store, as a check's streak is: a takeover continues the backoff instead of starting it over.
  const { store, write } = host.deps;
  write(() =>
    store.putDetectorRecord(det.name, {
      failures: 0,
      raised: false,
      mtimeMs: mtime(det.path),
      stream: null,
      crashes: det.crashes,
      restartAt: Date.now() + delay,
    }),
  );
  host.deps.log('warn', 'stream detector ended: restarting with backoff', { detector: det.name, why, failure, delayMs: delay, crashes: det.crashes });
  restartIn(host, det, delay);
}

/** The delay before starting a stream again after `crashes` ends in a row (the first end: 100 ms, doubling, at most 30 s). */
export function backoffMs(crashes: number): number {
  return Math.min(STREAM_BACKOFF_MS * 2 ** crashes, STREAM_BACKOFF_MAX_MS);
}

function restartIn(host: HostContext, det: Detector, delay: number): void {
  det.state = 'crashed';
  det.reason = `restarting in ${delay} ms (ended ${det.crashes} ${det.crashes === 1 ? 'time' : 'times'} in a row)`;
  const next = det.gen;
  det.timer = setTimeout(
    host.safely(det, () => startStream(host, det, next)),
    delay,
  );
}

/**
 * Start a stream just loaded. `saved`: its record when the file is unchanged
 * since it was written (an edited stream starts afresh): the backoff of a
 * previous HAM continues, and a restart it had scheduled keeps its time.
 */
export function resumeStream(host: HostContext, det: Detector, saved: DetectorRecord | undefined): void {
  det.crashes = saved?.crashes ?? 0;
  const wait = saved?.restartAt ? Math.min(saved.restartAt - Date.now(), STREAM_BACKOFF_MAX_MS) : 0;
  if (wait > 0) restartIn(host, det, Math.round(wait));
  else startStream(host, det, det.gen);
}

/** SIGKILL a stream's process group (and the process, if it left the group). */
export function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
