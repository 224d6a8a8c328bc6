// The keeper's log format written from Node, for output ham runs itself
// (`execute` actions, readiness commands): the same lines (time, stream,
// instance, escaped text), cut at the same bound, rotated the same way, failed
// writes dropped and counted the same way (src/keeper/keeper-log.c is the
// reference). Written off the loop, bounded, by the folder's sink (sink.ts).
import type { LogPolicy } from '../model/records.js';
import { sinkOf, stamp, type Sink } from './sink.js';

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

/** Anything but printable ASCII other than '\\' (as latin1: one char a byte). */
const NEEDS_ESCAPE = /[^\x20-\x5b\x5d-\x7e]/;

/** A line's bytes as stored: '\' as \\, tab \t, CR \r, other controls and non-UTF-8 bytes \xNN. */
export function escapeLogText(b: Buffer): string {
  const plain = b.toString('latin1');
  if (!NEEDS_ESCAPE.test(plain)) return plain; // the common case, without a string built byte by byte
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

/** One run's output into a log folder: write() as it comes, end() when it ended (its promise: all written). */
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
    let p = chunk;
    while (p.length > 0) {
      const nl = p.indexOf(10);
      const part = nl >= 0 ? nl : p.length;
      const fit = LINE_MAX_BYTES - this.partLen[k]!;
      if (part > fit) {
        this.line(k, p.subarray(0, fit), true);
        p = p.subarray(fit);
        continue;
      }
      if (nl < 0) {
        this.part[k].push(Buffer.from(p));
        this.partLen[k]! += p.length;
        break;
      }
      this.line(k, p.subarray(0, nl), false);
      p = p.subarray(nl + 1);
    }
  }

  /** The run ended: a line without its newline goes out as it is. Resolves once the folder's lines are written. */
  end(): Promise<void> {
    for (const k of [0, 1] as const) if (this.partLen[k]! > 0) this.line(k, Buffer.alloc(0), false);
    return this.sink().flush();
  }

  /** Looked up each time: a sink is forgotten once idle, and the folder's next one takes over. */
  private sink(): Sink {
    return sinkOf(this.dir, this.policy);
  }

  /** The line made of the part kept and `tail`, to the sink; with the sink full, counted as dropped instead (never formatted). */
  private line(k: 0 | 1, tail: Buffer, cut: boolean): void {
    const text = this.part[k].length > 0 ? Buffer.concat([...this.part[k], tail]) : tail;
    this.part[k] = [];
    this.partLen[k] = 0;
    const s = this.sink();
    if (s.full()) return s.drop(1);
    s.push(`${stamp()} ${k === 0 ? 'out' : 'err'} ${this.instance} ${escapeLogText(text)}${cut ? ` [ham: line cut at ${LINE_MAX_BYTES} bytes]` : ''}\n`);
  }
}
