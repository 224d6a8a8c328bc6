// The keepers' inbox: each record is one file `ID-SERIAL-SEQ`, renamed into
// place whole, so a reader never sees half a record. inotify (fs.watch) wakes
// the HAM; a full scan on takeover picks up whatever arrived while no HAM ran.
import { readdirSync, readFileSync, unlinkSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export type KeeperRecord =
  | { kind: 'K'; pid: number }
  | { kind: 'P'; pid: number }
  | { kind: 'S'; pid: number }
  | { kind: 'F'; errno: number }
  | { kind: 'X'; pid: number; status: number };

export interface InboxItem {
  id: number;
  serial: number;
  seq: number;
  file: string;
  record: KeeperRecord | null;
}

/** What the consumer did with an item: applied/stale → file removed; `later` → kept. */
export type Verdict = 'done' | 'later';

const NAME = /^(\d+)-(\d+)-(\d+)$/;

export function parseRecord(text: string): KeeperRecord | null {
  const f = text.trim().split(/\s+/);
  const n = f.slice(1).map(Number);
  if (n.some((x) => !Number.isInteger(x))) return null;
  switch (f[0]) {
    case 'K':
      return n.length === 1 ? { kind: 'K', pid: n[0]! } : null;
    case 'P':
    case 'S':
      return n.length === 1 ? { kind: f[0] as 'P' | 'S', pid: n[0]! } : null;
    case 'F':
      return n.length === 1 ? { kind: 'F', errno: n[0]! } : null;
    case 'X':
      return n.length === 2 ? { kind: 'X', pid: n[0]!, status: n[1]! } : null;
    default:
      return null;
  }
}

export class Inbox {
  private watcher: FSWatcher | undefined;
  private scheduled = false;

  constructor(
    private readonly dir: string,
    private readonly consume: (item: InboxItem) => Verdict,
  ) {}

  start(): void {
    this.watcher = watch(this.dir, () => this.schedule());
    this.watcher.on('error', () => undefined);
    this.drain();
  }

  close(): void {
    this.watcher?.close();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.drain();
    });
  }

  /** Hand every complete record to the consumer in (id, serial, seq) order. */
  drain(): void {
    const items: InboxItem[] = [];
    for (const file of readdirSync(this.dir)) {
      const m = NAME.exec(file);
      if (!m) continue;
      items.push({ id: Number(m[1]), serial: Number(m[2]), seq: Number(m[3]), file, record: null });
    }
    items.sort((a, b) => a.id - b.id || a.serial - b.serial || a.seq - b.seq);
    for (const item of items) {
      const path = join(this.dir, item.file);
      try {
        item.record = parseRecord(readFileSync(path, 'latin1'));
      } catch {
        continue; // consumed by a concurrent drain
      }
      if (this.consume(item) === 'done') {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      }
    }
  }
}
