// The HAM's side of the pair: spawn the Guardian, hear its beats, and replace
// it when it dies or hangs. Only `stop()` (from `ham stop`) ends it for good.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { HomePaths } from '../src/home.js';
import { openLog } from '../src/home-check.js';
import type { Logger } from '../src/log.js';
import { DAEMON_MAIN, DAEMON_NODE_FLAGS, daemonSpawn } from '../src/paths.js';
import { childrenOf, isAlive, killIfAlive, procId, type ProcId } from '../src/proc/procfs.js';
import { dropGuardian } from '../src/store/roles.js';
import type { Store } from '../src/store/store.js';
import { startBeating, type Beater, type LinkMessage } from './link.js';
import { ourNanny } from './nanny.js';

export interface PartnerOptions {
  paths: HomePaths;
  store: Store;
  epoch: number;
  hangMs: number;
  log: Logger;
  /** Each time a Guardian says it is ready (`ham start` is told the pair is whole). */
  onReady?: () => void;
}

const RESPAWN_MAX_MS = 5000;

export class GuardianPartner {
  private child: ChildProcess | undefined;
  private id: ProcId | undefined;
  private beater: Beater | undefined;
  private startup: NodeJS.Timeout | undefined;
  private stopping = false;
  private partnerQuiet = false;
  private partnerWatched = false;
  /** Spawned through its nanny: `child` is the nanny, the Guardian its child (its pid comes with `ready`). */
  private viaNanny = false;
  private respawnMs = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  /** The Guardian whose nanny died alone: still guarding (it says `unwatched`), its pipe's close is its death. */
  private orphaned: ChildProcess | undefined;
  private readonly exits = new Set<() => void>();

  constructor(private readonly o: PartnerOptions) {}

  start(): void {
    let child: ChildProcess;
    try {
      const log = openLog(this.o.paths.daemonLog);
      try {
        const d = daemonSpawn([...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--home', this.o.paths.root, '--role', 'guardian', '--epoch', String(this.o.epoch)]);
        child = spawn(d.file, d.args, { detached: true, stdio: ['ignore', log, log, 'ipc'] });
        this.viaNanny = d.file !== process.execPath;
      } finally {
        closeSync(log);
      }
    } catch (e) {
      return this.retry(`could not spawn a guardian: ${(e as Error).message}`);
    }
    this.child = child;
    this.id = child.pid === undefined || this.viaNanny ? undefined : procId(child.pid);
    // A spawn that fails (EAGAIN, ENOENT...) emits 'error' and never 'exit'.
    child.on('error', (e) => {
      if (child.pid !== undefined || child !== this.child) return;
      clearTimeout(this.startup);
      this.child = undefined;
      this.retry(`could not spawn a guardian: ${e.message}`);
    });
    // Only the current Guardian's messages: a late `quiet` from one being replaced must not silence us towards the next.
    child.on('message', (m: LinkMessage) => child === this.child && this.onMessage(m));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
    // Its nanny died alone, the Guardian kept: the pipe's close is then its death.
    child.on('disconnect', () => this.orphaned === child && this.gone(child, null, null));
    // A Guardian gets a generous start-up deadline (node boots slowly on a busy
    // machine); the hang threshold applies once it says it is ready.
    this.startup = setTimeout(() => this.hung('did not become ready'), Math.max(10_000, this.o.hangMs * 10));
  }

  /** `ham stop`: ask the Guardian to exit, and do not replace it. */
  stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.respawnTimer);
    const child = this.child;
    if (!child || ((child.exitCode !== null || child.signalCode !== null) && this.orphaned !== child)) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.kill(child), 2000);
      this.exits.add(() => {
        clearTimeout(kill);
        resolve();
      });
      try {
        child.send({ t: 'exit' } satisfies LinkMessage);
      } catch {
        this.kill(child);
      }
    });
  }

  private onMessage(m: LinkMessage): void {
    this.beater?.heard(m);
    // The Guardian says `quiet` (it watches us) before `ready`, before our beater exists.
    if (m.t === 'quiet' || m.t === 'loud') this.partnerQuiet = m.t === 'quiet';
    if (m.t === 'watched' || m.t === 'unwatched') this.partnerWatched = m.t === 'watched';
    if (m.t !== 'ready' || this.beater) return;
    clearTimeout(this.startup);
    this.respawnMs = 0;
    const child = this.child!;
    if (this.viaNanny && typeof m.pid === 'number') this.id = procId(m.pid);
    this.beater = startBeating(
      (msg) => child.send(msg),
      this.o.hangMs,
      () => this.hung(`neither idle nor answering for ${this.o.hangMs} ms`),
      this.id,
      { partnerWatched: this.partnerWatched, nanny: ourNanny() },
    );
    if (this.partnerQuiet) this.beater.heard({ t: 'quiet' });
    this.o.log('info', 'guardian ready', { guardian: this.id?.pid ?? child.pid });
    this.o.onReady?.();
  }

  private hung(why: string): void {
    this.o.log('warn', 'guardian hung: killing it', { guardian: this.id?.pid ?? this.child?.pid, why });
    if (this.child) this.kill(this.child);
  }

  /** SIGKILL the Guardian; through its nanny, the Guardian itself first (the nanny then exits as it did). */
  private kill(child: ChildProcess): void {
    if (this.viaNanny && child.pid !== undefined) {
      const ids = this.id ? [this.id] : this.orphaned === child ? [this.registered()] : childrenOf(new Set([child.pid])).map((pid) => procId(pid));
      for (const id of ids) killIfAlive(id);
    }
    child.kill('SIGKILL');
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    // Its nanny died alone: the Guardian keeps guarding (killing it would leave nobody to take over
    // while we hang) and tells us `unwatched`; its pipe's close is then its death.
    const id = this.id ?? this.registered();
    if (this.viaNanny && id && isAlive(id) && child.connected) {
      this.orphaned = child;
      this.o.log('warn', 'guardian lost its nanny: watching it instead', { guardian: id.pid, code, signal });
      return;
    }
    this.gone(child, code, signal);
  }

  private gone(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    const id = this.id ?? this.registered();
    if (this.viaNanny) killIfAlive(id);
    this.orphaned = undefined;
    clearTimeout(this.startup);
    this.beater?.stop();
    this.beater = undefined;
    this.partnerQuiet = false;
    this.partnerWatched = false;
    this.child = undefined;
    for (const f of this.exits) f();
    this.exits.clear();
    if (this.stopping) return;
    this.o.log('warn', 'guardian died: spawning a new one', { guardian: id?.pid ?? child.pid, code, signal, inMs: this.respawnMs });
    if (id) dropGuardian(this.o.store, this.o.epoch, id, true);
    this.schedule();
  }

  /** Through a nanny, before `ready` (which brings its pid): the Guardian registered in the store, the only one we spawned. */
  private registered(): ProcId | undefined {
    if (!this.viaNanny) return undefined;
    this.o.store.refresh();
    const g = this.o.store.roles().guardian;
    return g && g.pid !== process.pid ? g : undefined;
  }

  private retry(why: string): void {
    this.o.log('error', why, { inMs: this.respawnMs });
    if (!this.stopping) this.schedule();
  }

  private schedule(): void {
    this.respawnTimer = setTimeout(() => this.start(), this.respawnMs);
    this.respawnMs = Math.min(Math.max(this.respawnMs * 2, 100), RESPAWN_MAX_MS);
  }
}
