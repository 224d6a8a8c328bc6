// The keeper's log format written from Node, for output ham runs itself
// (`execute` actions): the same lines (time, stream, instance, escaped text),
// cut at the same bound, rotated the same way, failed writes dropped and
// counted the same way (src/keeper/keeper-log.c is the reference).
import { closeSync, constants as fsc, fstatSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { LogPolicy } from '../model/records.js';

export const LINE_MAX_BYTES = 16384;

/** The length of a UTF-8 sequence at b[i] as the keepers judge it (0: not one). */
function utf8Len(b: Buffer, i: number): number {
  const c = b[i]!;
  const len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (len === 0 || i + len > b.length) return 0;
  for (let k = 1; k < len; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  const d = b[i + 1]!;
  if (len === 3 && ((c === 0xe0 && d < 0xa0) || (c === 0xed && d >= 0xa0))) return 0;
  if (len === 4 && ((c === 0xf0 && d < 0x90) || (c === 0xf4 && d >= 0x90))) return 0;
  return len;
}

/** A line's bytes as stored: '\' as \\, tab \t, CR \r, other controls and non-UTF-8 bytes \xNN. */
export function escapeLogText(b: Buffer): string {
  let out = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const l = c >= 0x80 ? utf8Len(b, i) : 0;
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) out += String.fromCharCode(c);
    else if (l) out += b.toString('utf8', i, i + l);
    else out += c === 0x5c ? '\\\\' : c === 9 ? '\\t' : c === 13 ? '\\r' : `\\x${c.toString(16).padStart(2, '0')}`;
    i += l || 1;
  }
  return out;
}

/** Lines dropped per folder (shared by the writers of one folder), said once writing works again. */
const dropped = new Map<string, { n: number; why: string }>();

/** One run's output into a log folder: write() as it comes, end() when it ended. */
export class LogWriter {
  private readonly part: [Buffer[], Buffer[]] = [[], []];
  private readonly partLen = [0, 0];

  constructor(
    private readonly dir: string,
    private readonly policy: LogPolicy,
    private readonly instance: number,
  ) {}

  /** Bytes of stdout (0) or stderr (1): whole lines out, the rest kept for the next write or end(). */
  write(k: 0 | 1, chunk: Buffer): void {
    const lines: string[] = [];
    let p = chunk;
    while (p.length > 0) {
      const nl = p.indexOf(10);
      const part = nl >= 0 ? nl : p.length;
      const fit = LINE_MAX_BYTES - this.partLen[k]!;
      if (part > fit) {
        lines.push(this.line(k, p.subarray(0, fit), true));
        p = p.subarray(fit);
        continue;
      }
      if (nl < 0) {
        this.part[k].push(Buffer.from(p));
        this.partLen[k]! += p.length;
        break;
      }
      lines.push(this.line(k, p.subarray(0, nl), false));
      p = p.subarray(nl + 1);
    }
    this.append(lines);
  }

  /** The run ended: a line without its newline goes out as it is. */
  end(): void {
    const lines: string[] = [];
    for (const k of [0, 1] as const) if (this.partLen[k]! > 0) lines.push(this.line(k, Buffer.alloc(0), false));
    this.append(lines);
  }

  private line(k: 0 | 1, tail: Buffer, cut: boolean): string {
    const text = Buffer.concat([...this.part[k], tail]);
    this.part[k] = [];
    this.partLen[k] = 0;
    return `${stamp()} ${k === 0 ? 'out' : 'err'} ${this.instance} ${escapeLogText(text)}${cut ? ` [ham: line cut at ${LINE_MAX_BYTES} bytes]` : ''}\n`;
  }

  private append(lines: string[]): void {
    if (lines.length === 0) return;
    const d = dropped.get(this.dir);
    if (d) lines.unshift(`${stamp()} ham 0 [ham: ${d.n} lines dropped: the log could not be written (${d.why})]\n`);
    let fd: number | undefined;
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const st = lstatSync(this.dir);
      if (!st.isDirectory() || st.uid !== process.getuid?.()) throw Object.assign(new Error('not our folder'), { code: 'EPERM' });
      fd = openSync(join(this.dir, 'current'), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
      let size = fstatSync(fd).size;
      let batch = '';
      for (const l of lines) {
        const n = Buffer.byteLength(l);
        if (size + Buffer.byteLength(batch) + n > this.policy.maxBytes && size + batch.length > 0) {
          if (batch) writeSync(fd, batch);
          batch = '';
          closeSync(fd);
          this.rotate();
          fd = openSync(join(this.dir, 'current'), fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW, 0o600);
          size = 0;
        }
        batch += l;
      }
      writeSync(fd, batch);
      dropped.delete(this.dir);
    } catch (e) {
      // Never fails the run: counted, and said once writing works again.
      const n = lines.length - (d ? 1 : 0) + (d?.n ?? 0);
      dropped.set(this.dir, { n, why: (e as NodeJS.ErrnoException).code ?? String(e) });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  private rotate(): void {
    const at = (f: string | number): string => join(this.dir, String(f));
    const move = (from: string, to: string): void => {
      try {
        renameSync(from, to);
      } catch {
        /* not there */
      }
    };
    for (let i = this.policy.keep - 1; i >= 1; i--) move(at(i), at(i + 1));
    if (this.policy.keep > 0) move(at('current'), at(1));
    else unlinkSync(at('current'));
  }
}

function stamp(): string {
  return new Date().toISOString();
}
