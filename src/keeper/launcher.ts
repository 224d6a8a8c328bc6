// The HAM's side of the keeper launcher (launcher.c): keepers are started by one
// small long-lived C process fed on a pipe, so the HAM never forks itself for
// them (a fork of the Node process costs milliseconds of its event loop; ten
// thousand would stall it past the hang watchdog). A launcher that dies is
// started again and sent every request it had not answered; the keeper
// folder's marker makes a repeated request a no-op (exactly once).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, openSync, readSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { HamError } from '../errors.js';
import { LAUNCHER_BINARY } from '../paths.js';
import { errnoName } from '../proc/names.js';
import { startTime, type ProcId } from '../proc/procfs.js';
import { PidWatch } from './pid-watch.js';

export interface Launch {
  tag: string;
  dir: string;
  log: string;
  cwd: string;
  argv: string[];
  env: Record<string, string>;
}

/** A request's bound (the launcher's own is the same): argv and env are bounded well below it. */
export const MAX_LAUNCH_BYTES = 4 << 20;
/** Requests sent and not answered at most: the pipe's buffer in this process stays bounded (MAX_IN_FLIGHT × a request). */
export const MAX_IN_FLIGHT = 256;
/** A launcher that dies this many times in a row without answering anything is given up on. */
const MAX_SILENT_DEATHS = 3;

/** Encode one request: "LEN\n" then NUL-ended fields (see launcher.c). */
export function encodeLaunch(l: Launch): Buffer {
  const env = Object.entries(l.env).map(([k, v]) => `${k}=${v}`);
  const fields = [l.tag, l.dir, l.log, l.cwd, String(l.argv.length), ...l.argv, String(env.length), ...env];
  for (const f of fields)
    if (f.includes('\0'))
      throw new HamError({ code: 'spawn-failed', message: `a keeper's argument or environment has a NUL byte: ${JSON.stringify(f.slice(0, 60))}` });
  const body = Buffer.from(`${fields.join('\0')}\0`);
  if (body.length > MAX_LAUNCH_BYTES)
    throw new HamError({ code: 'spawn-failed', message: `expected a keeper's argv and environment within ${MAX_LAUNCH_BYTES} bytes, got ${body.length}` });
  return Buffer.concat([Buffer.from(`${body.length}\n`), body]);
}

/**
 * What keeper folder `dir`'s marker says started it: the launched child's pid and start time,
 * which are the keeper's (an exec keeps both); 'none' if there is no marker; 'old' if it says
 * nothing (an older launcher's empty marker).
 */
export function readMarker(dir: string): ProcId | 'none' | 'old' {
  let fd: number;
  try {
    fd = openSync(join(dir, 'spawned'), fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : 'old';
  }
  try {
    const buf = Buffer.alloc(64); // "PID START\n": a few dozen bytes
    const m = /^([1-9]\d{0,9}) (\d{1,20})\n$/.exec(buf.toString('latin1', 0, readSync(fd, buf, 0, buf.length, 0)));
    return m ? { pid: Number(m[1]), start: Number(m[2]) } : 'old';
  } catch {
    return 'old';
  } finally {
    closeSync(fd);
  }
}

interface Started {
  pid: number;
  /** Its start time (clock ticks), so a reused pid is not taken for it. */
  start: number | undefined;
  onExit: (why: string) => void;
}

/** How long a keeper whose launcher died is watched by pid: its first record comes in milliseconds. */
const ORPHAN_WATCH_MS = 60_000;
/**
 * How long a keeper an earlier launcher's child started ('d') is watched: that child may still
 * be before its exec (the HAM died, or the launcher, while it ran), and nothing else tells if it dies.
 */
export const EARLIER_WATCH_MS = 600_000;

interface Pending {
  frame: Buffer;
  /** The keeper's program, for the error that says it could not be started. */
  bin: string;
  cwd: string;
  onExit: (why: string) => void;
  /** Its first record came before the launcher's answer: nothing to watch once it is answered. */
  settled?: boolean;
}

/** The launcher's environment: nothing of ours, but crash tests' failpoints where set (launcher.c: hold). */
function launcherEnv(): Record<string, string> {
  const { HAM_FAILPOINTS, HAM_FAILPOINT_DIR } = process.env;
  return HAM_FAILPOINTS && HAM_FAILPOINT_DIR ? { LANG: 'C', HAM_FAILPOINTS, HAM_FAILPOINT_DIR } : { LANG: 'C' };
}

export class Launcher {
  private proc: ChildProcess | undefined;
  private buf = '';
  /** Sent, not yet answered: sent again to the next launcher if this one dies. */
  private readonly pending = new Map<string, Pending>();
  /** Started by the current launcher: its exit answer calls onExit (while it lives). */
  private readonly started = new Map<string, Started>();
  private roomWaiter: (() => void) | undefined;
  private silentDeaths = 0;
  /** Requests of this turn not written yet: a bulk start (apply, resume) is one write, not one per keeper. */
  private outgoing: Buffer[] = [];
  /** Launchers let go by close(): they carry out what they were sent, then exit at EOF. */
  private readonly retired = new WeakSet<ChildProcess>();
  /** How many launchers were started (status, tests). */
  starts = 0;

  /** `unheard`: where keepers whose exit no launcher reports are watched by pid (shared with reconcile). */
  constructor(
    private readonly onTrouble: (message: string) => void = () => undefined,
    private readonly unheard = new PidWatch(),
  ) {}

  static available(): boolean {
    return existsSync(LAUNCHER_BINARY);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Room for another request now (fewer than MAX_IN_FLIGHT unanswered)? */
  room(): boolean {
    return this.pending.size < MAX_IN_FLIGHT;
  }

  /** Call `cb` once there is room again (one waiter: the spawner's queue). */
  whenRoom(cb: () => void): void {
    this.roomWaiter = cb;
    this.tellRoom();
  }

  private tellRoom(): void {
    if (!this.roomWaiter || !this.room()) return;
    const cb = this.roomWaiter;
    this.roomWaiter = undefined;
    setImmediate(cb);
  }

  /** Keeper `tag`'s first record is in: its life FIFO tells of its end from now on (nothing more to watch here). */
  settled(tag: string): void {
    const p = this.pending.get(tag);
    if (p) p.settled = true;
    this.started.delete(tag);
    this.unheard.settle(tag);
  }

  /** Whether keeper `tag` was sent to a launcher by this process (its pid comes with its K record). */
  has(tag: string): boolean {
    return this.pending.has(tag) || this.started.has(tag) || this.unheard.has(tag);
  }

  /** Start a keeper; `onExit` if it could not be started, or exited while this launcher was its parent. */
  launch(l: Launch, onExit: (why: string) => void): void {
    const frame = encodeLaunch(l);
    if (this.pending.has(l.tag) || this.started.has(l.tag)) throw new HamError({ code: 'internal', message: `keeper ${l.tag} is already being started` });
    this.pending.set(l.tag, { frame, bin: l.argv[0] ?? '', cwd: l.cwd, onExit });
    this.outgoing.push(frame);
    if (this.outgoing.length === 1) queueMicrotask(() => this.flush()); // once this turn's launches are all in
  }

  /** This turn's requests, in one write (the launcher reads a stream of frames: launcher.c). */
  private flush(): void {
    const frames = this.outgoing;
    this.outgoing = [];
    if (frames.length > 0) this.ensure().stdin!.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  }

  /** Let the launcher go: it starts what it was sent, then exits at EOF (the keepers stay). */
  close(): void {
    this.flush(); // what was asked for is started, as if written at once
    if (!this.proc) return;
    this.retired.add(this.proc);
    this.proc.stdin?.end();
    this.proc = undefined;
    this.pending.clear();
    this.started.clear();
    this.unheard.close();
  }

  private ensure(): ChildProcess {
    if (this.proc) return this.proc;
    const p = spawn(LAUNCHER_BINARY, [], { stdio: ['pipe', 'pipe', 'inherit'], env: launcherEnv() });
    this.proc = p;
    this.starts += 1;
    // Neither the launcher nor its pipes keep the HAM alive; its EOF ends the launcher.
    p.unref();
    (p.stdin as unknown as Socket).unref();
    (p.stdout as unknown as Socket).unref();
    p.stdout!.setEncoding('utf8');
    p.stdout!.on('data', (d: string) => this.retired.has(p) || this.receive(d));
    p.stdin!.on('error', () => undefined); // a dead launcher: its exit handles the rest
    let gone = false;
    const onGone = (why: string): void => {
      if (gone) return;
      gone = true;
      if (this.retired.has(p)) return;
      if (this.proc === p) this.proc = undefined;
      this.buf = '';
      this.outgoing = []; // among the pending: sent again below, or failed
      this.watchOrphans(); // their exits now go to init; their life FIFOs tell, once they wrote K
      this.silentDeaths += 1;
      if (this.silentDeaths >= MAX_SILENT_DEATHS) {
        this.onTrouble(`the keeper launcher died ${this.silentDeaths} times without answering (${why}): its requests failed`);
        const failed = [...this.pending.values()];
        this.pending.clear();
        this.silentDeaths = 0;
        for (const f of failed) f.onExit(`the keeper launcher failed: ${why}`);
        this.tellRoom();
        return;
      }
      this.onTrouble(`the keeper launcher died (${why}): started again, ${this.pending.size} requests sent again`);
      if (this.pending.size === 0) return;
      this.ensure().stdin!.write(Buffer.concat([...this.pending.values()].map((f) => f.frame)));
    };
    p.on('error', (e) => onGone(e.message));
    // 'close', not 'exit': after its last answers are read (an 's' read after its death would leave that keeper unwatched).
    p.on('close', (code, sig) => onGone(sig ?? `exit ${code}`));
    return p;
  }

  private receive(d: string): void {
    this.silentDeaths = 0;
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const [kind, tag, n, m] = this.buf.slice(0, nl).split(' ') as [string, string, string | undefined, string | undefined];
      this.buf = this.buf.slice(nl + 1);
      const p = this.pending.get(tag);
      if (kind === 'x') {
        const exit = this.started.get(tag);
        this.started.delete(tag);
        exit?.onExit(`the keeper exited (wait status ${n})`);
        continue;
      }
      if (!p) continue;
      this.pending.delete(tag);
      if (kind === 's' && !p.settled) this.started.set(tag, { pid: Number(n), start: startTime(Number(n)), onExit: p.onExit });
      else if (kind === 'e') p.onExit(`the keeper (${p.bin}) could not be started in ${p.cwd}: ${errnoName(Number(n))}`);
      else if (kind === 'd' && !p.settled && Number(n) > 0)
        // An earlier launcher's child started it (its marker's pid), perhaps not exec'd yet: if it dies before
        // its first record, nothing else tells. (No pid: an older launcher's marker; its records tell the rest.)
        this.unheard.watch(tag, { pid: Number(n), start: Number(m) }, EARLIER_WATCH_MS, () =>
          p.onExit('the keeper an earlier launcher started exited before its first record (no wait status)'),
        );
    }
    if (this.buf.length > 64 * 1024) this.buf = ''; // no answer is that long: junk
    this.tellRoom();
  }

  /**
   * A launcher died: the keepers it started are init's children now. One that
   * dies before its first record never opened its life FIFO, so nothing else
   * would tell: watch each by pid for a while and report its exit (onExit is a
   * no-op for a keeper whose records came in).
   */
  private watchOrphans(): void {
    for (const [tag, k] of this.started)
      this.unheard.watch(tag, { pid: k.pid, start: k.start ?? -1 }, ORPHAN_WATCH_MS, () =>
        k.onExit('the keeper exited (its launcher had died: no wait status)'),
      );
    this.started.clear();
  }
}
