// The HAM's side of the pair: spawn the Guardian, hear its beats, and replace
// it when it dies or hangs. Only `stop()` (from `ham stop`) ends it for good.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync } from 'node:fs';
import type { HomePaths } from '../src/home.js';
import { openLog } from '../src/home-check.js';
import type { Logger } from '../src/log.js';
import { DAEMON_MAIN, DAEMON_NODE_FLAGS } from '../src/paths.js';
import { procId, type ProcId } from '../src/proc/procfs.js';
import { dropGuardian } from '../src/store/roles.js';
import type { Store } from '../src/store/store.js';
import { startBeating, type Beater, type LinkMessage } from './link.js';

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
  private respawnMs = 0;
  private respawnTimer: NodeJS.Timeout | undefined;
  private readonly exits = new Set<() => void>();

  constructor(private readonly o: PartnerOptions) {}

  start(): void {
    let child: ChildProcess;
    try {
      const log = openLog(this.o.paths.daemonLog);
      try {
        child = spawn(
          process.execPath,
          [...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--home', this.o.paths.root, '--role', 'guardian', '--epoch', String(this.o.epoch)],
          {
            detached: true,
            stdio: ['ignore', log, log, 'ipc'],
          },
        );
      } finally {
        closeSync(log);
      }
    } catch (e) {
      return this.retry(`could not spawn a guardian: ${(e as Error).message}`);
    }
    this.child = child;
    this.id = child.pid === undefined ? undefined : procId(child.pid);
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
    // A Guardian gets a generous start-up deadline (node boots slowly on a busy
    // machine); the hang threshold applies once it says it is ready.
    this.startup = setTimeout(() => this.hung('did not become ready'), Math.max(10_000, this.o.hangMs * 10));
  }

  /** `ham stop`: ask the Guardian to exit, and do not replace it. */
  stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.respawnTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
      this.exits.add(() => {
        clearTimeout(kill);
        resolve();
      });
      try {
        child.send({ t: 'exit' } satisfies LinkMessage);
      } catch {
        child.kill('SIGKILL');
      }
    });
  }

  private onMessage(m: LinkMessage): void {
    this.beater?.heard(m);
    // The Guardian says `quiet` (it watches us) before `ready`, before our beater exists.
    if (m.t === 'quiet' || m.t === 'loud') this.partnerQuiet = m.t === 'quiet';
    if (m.t !== 'ready' || this.beater) return;
    clearTimeout(this.startup);
    this.respawnMs = 0;
    const child = this.child!;
    this.beater = startBeating(
      (msg) => child.send(msg),
      this.o.hangMs,
      () => this.hung(`neither idle nor answering for ${this.o.hangMs} ms`),
      this.id,
    );
    if (this.partnerQuiet) this.beater.heard({ t: 'quiet' });
    this.o.log('info', 'guardian ready', { guardian: child.pid });
    this.o.onReady?.();
  }

  private hung(why: string): void {
    this.o.log('warn', 'guardian hung: killing it', { guardian: this.child?.pid, why });
    this.child?.kill('SIGKILL');
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    clearTimeout(this.startup);
    this.beater?.stop();
    this.beater = undefined;
    this.partnerQuiet = false;
    this.child = undefined;
    for (const f of this.exits) f();
    this.exits.clear();
    if (this.stopping) return;
    this.o.log('warn', 'guardian died: spawning a new one', { guardian: child.pid, code, signal, inMs: this.respawnMs });
    if (this.id) dropGuardian(this.o.store, this.o.epoch, this.id, true);
    this.schedule();
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
