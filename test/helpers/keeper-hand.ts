// A keeper driven by hand (no HAM), for the keeper's output tests: a temp folder with its inbox and
// log folder, made before each test and removed after it with every process whose command line holds it.
import type { ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { killAll } from './ham.js';

export interface HandKeeper {
  dir: string;
  inbox: string;
  /** The log folder of the entity `e`. */
  logDir: string;
  /** Keepers a test started: SIGKILLed after it. */
  started: ChildProcess[];
}

export function handKeeper(prefix: string): HandKeeper {
  const h: HandKeeper = { dir: '', inbox: '', logDir: '', started: [] };
  beforeEach(() => {
    h.dir = mkdtempSync(join(tmpdir(), prefix));
    h.inbox = join(h.dir, 'inbox');
    h.logDir = join(h.dir, 'logs', 'e');
    mkdirSync(h.inbox);
    mkdirSync(join(h.dir, 'logs'));
  });
  afterEach(() => {
    for (const k of h.started.splice(0)) {
      try {
        if (k.pid) process.kill(k.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killAll(h.dir); // the entities (their command lines hold dir)
    rmSync(h.dir, { recursive: true, force: true });
  });
  return h;
}

/** The keeper's records (tag `t`) in the order it wrote them. */
export function records(inbox: string): string[] {
  return readdirSync(inbox)
    .filter((f) => /^t-\d+$/.test(f))
    .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))
    .map((f) => readFileSync(join(inbox, f), 'utf8').trim());
}

/** One command line to the keeper of `kdir` through its ctl FIFO. */
export function command(kdir: string, line: string): void {
  const fd = openSync(join(kdir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  writeSync(fd, `${line}\n`);
  closeSync(fd);
}
