// The detectors folder: watched with chokidar (an edit settles before it is
// loaded once), and the files in it read and judged (the executable, its
// sidecar, their modes and owners).
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { fileRefusal } from './security.js';

export const SIDECAR = '.ham.json';
const IGNORED = /(^\.|~$|\.swp$|\.tmp$|\.md$|\.txt$)/;
const RELOAD_DEBOUNCE_MS = 30;

/** Calls `changed(name)` once a detector's file or sidecar was added, changed or removed (its current files are "added"). */
export class FolderWatch {
  private watcher: FSWatcher | undefined;
  private closed = false;
  private readonly reloads = new Map<string, NodeJS.Timeout>();

  constructor(dir: string, log: Logger, changed: (name: string) => void) {
    // chokidar is loaded here, not with the module: a Guardian (which loads every module a takeover
    // runs) never watches until it takes over, and the folder is watched after the socket answers.
    import('chokidar').then(
      ({ watch }) => {
        if (this.closed) return;
        this.watcher = watch(dir, { depth: 0, ignoreInitial: false, persistent: true, ignored: (p: string) => p !== dir && IGNORED.test(basename(p)) });
        const touched = (p: string): void => {
          const file = basename(p);
          const name = file.endsWith(SIDECAR) ? file.slice(0, -SIDECAR.length) : file;
          if (!name) return;
          // Editors write in several steps: settle first, then load once.
          clearTimeout(this.reloads.get(name));
          this.reloads.set(
            name,
            setTimeout(() => {
              this.reloads.delete(name);
              changed(name);
            }, RELOAD_DEBOUNCE_MS),
          );
        };
        this.watcher.on('add', touched).on('change', touched).on('unlink', touched);
        this.watcher.on('error', (e) => log('error', 'watching the detectors folder failed', { dir, error: (e as Error).message }));
      },
      (e: Error) => log('error', 'watching the detectors folder failed', { dir, error: e.message }),
    );
  }

  close(): void {
    this.closed = true;
    void this.watcher?.close();
    for (const t of this.reloads.values()) clearTimeout(t);
  }
}

/** Why a detector file or its sidecar must not run (others could write them), or undefined. */
export function fileOrSidecarRefusal(path: string): string | undefined {
  const file = fileRefusal(path);
  if (file) return file;
  const side = `${path}${SIDECAR}`;
  if (existsSync(side)) {
    const why = fileRefusal(side, false);
    if (why) return `its sidecar ${basename(side)} is refused: ${why}`;
  }
  return undefined;
}

export function readSidecar(dir: string, name: string): string | undefined {
  const side = join(dir, `${name}${SIDECAR}`);
  return existsSync(side) ? readFileSync(side, 'utf8').slice(0, 64 * 1024) : undefined;
}

/** The first bytes of a file: enough for its header. */
export function head(path: string): string {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export function mtime(path: string): number {
  try {
    return Math.round(statSync(path).mtimeMs);
  } catch {
    return 0;
  }
}
