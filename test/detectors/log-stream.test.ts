// log-stream, the STREAM detector: follows a real file across appends,
// rotation and truncation; one JSON raise per matching line (checked with the
// host's own line parser), the matched line on stderr.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseLine } from '../../src/detector/stream.js';
import { detector, hostEnv, procState, Scope, waitFor } from './helpers.js';

let scope: Scope;
let dir: string;
let log: string;
beforeEach(() => {
  scope = new Scope();
  dir = scope.tmp('ham-det-stream-');
  log = join(dir, 'app.log');
});
afterEach(() => scope.cleanup());

interface Event {
  entity?: string;
  raise: { type: string; severity: number };
}

/** A running log-stream, the events it printed and the lines it matched, in order. */
class Stream {
  readonly lines: string[] = [];
  readonly said: string[] = [];
  private cursor = 0;
  constructor(readonly child: ChildProcess & { pid: number }) {
    createInterface({ input: child.stdout! }).on('line', (l) => this.lines.push(l));
    createInterface({ input: child.stderr! }).on('line', (l) => this.said.push(l));
  }

  /** The next event (which the host must accept as it is) and the line it matched. */
  async next(ms = 10_000): Promise<{ event: Event; text: string }> {
    const i = this.cursor;
    await waitFor(`event #${i + 1} from log-stream`, () => this.lines[i] !== undefined && this.said[i] !== undefined, ms);
    this.cursor++;
    const parsed = parseLine(this.lines[i]!);
    if ('error' in parsed) throw new Error(`the host would refuse ${this.lines[i]}: ${parsed.error}`);
    expect(parsed.event).toEqual(JSON.parse(this.lines[i]!));
    return { event: parsed.event as Event, text: this.said[i]! };
  }

  /** The next matched line, as said on stderr after `log-stream: FILE: `. */
  async text(): Promise<string> {
    const { text } = await this.next();
    const prefix = `log-stream: ${log}: `;
    expect(text.startsWith(prefix), text).toBe(true);
    return text.slice(prefix.length);
  }

  /** Resolves once it holds FILE open and stands at its end (from /proc). */
  async atEndOf(file: string): Promise<void> {
    await waitFor(`log-stream to stand at the end of ${file}`, () => {
      const size = statSync(file).size;
      for (const fd of readdirSync(`/proc/${this.child.pid}/fd`)) {
        let target = '';
        try {
          target = readlinkSync(`/proc/${this.child.pid}/fd/${fd}`);
        } catch {
          continue;
        }
        if (target !== file) continue;
        const pos = /^pos:\s+(\d+)/m.exec(readFileSync(`/proc/${this.child.pid}/fdinfo/${fd}`, 'utf8'));
        if (pos && Number(pos[1]) === size) return true;
      }
      return false;
    });
  }
}

function start(args: string[], env: Record<string, string> = {}): Stream {
  const child = scope.spawn(detector('log-stream'), args, { env: hostEnv({ HAM_DETECTOR: 'log-stream', ...env }), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Stream(child);
}

describe('log-stream', () => {
  it('starts at the end of the file and raises once per matching line, flushed at once', async () => {
    writeFileSync(log, 'ERROR from before the start\nhalf a li');
    const s = start([log, 'ERROR|FATAL', '--poll-ms', '50']);
    await s.atEndOf(log);
    appendFileSync(log, 'ne with ERROR, written before and after the start\nGET / 200\nERROR one\n');
    const first = await s.next();
    expect(first.event).toEqual({ raise: { type: 'log-match', severity: 1 } });
    expect(first.text).toBe(`log-stream: ${log}: ERROR one`);
    expect(s.lines[0]).toBe('{"raise":{"type":"log-match","severity":1}}');
    appendFileSync(log, 'fine\nFATAL two\r\n');
    expect(await s.text()).toBe('FATAL two');
    expect(s.lines).toHaveLength(2);
  });

  it('--type, --severity and --entity shape the event, JSON-escaped', async () => {
    writeFileSync(log, '');
    const s = start([log, 'slow query', '--type', 'db "slow" \\ é', '--severity', '3', '--entity', 'db "primary"', '--poll-ms', '50']);
    await s.atEndOf(log);
    appendFileSync(log, 'slow query: 2.3 s\n');
    expect((await s.next()).event).toEqual({ entity: 'db "primary"', raise: { type: 'db "slow" \\ é', severity: 3 } });
    expect(s.lines[0]).toBe('{"entity":"db \\"primary\\"","raise":{"type":"db \\"slow\\" \\\\ é","severity":3}}');
  });

  it('bytes that are not UTF-8 in --type become U+FFFD; control characters in the line become ?', async () => {
    writeFileSync(log, '');
    // Through sh's printf: node would re-encode argv as UTF-8.
    const child = scope.spawn('sh', ['-c', 'exec "$0" "$1" ERROR --poll-ms 50 --type "$(printf \'bad-\\377\\303-type\')"', detector('log-stream'), log], {
      env: hostEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s = new Stream(child);
    await s.atEndOf(log);
    appendFileSync(log, 'ERROR\ttab \x01ctl café\n');
    const { event } = await s.next();
    expect(event.raise.type).toBe('bad-\ufffd\ufffd-type');
    expect(s.lines[0]).not.toMatch(/[\x00-\x1f]/);
    expect(s.said[0]).toBe(`log-stream: ${log}: ERROR?tab ?ctl café`);
  });

  it('follows rotation: drains the old file, then reads the new one from its start', async () => {
    writeFileSync(log, 'boot\n');
    const s = start([log, 'ERROR', '--poll-ms', '50']);
    await s.atEndOf(log);
    appendFileSync(log, 'ERROR before rotation\n');
    expect(await s.text()).toBe('ERROR before rotation');
    renameSync(log, `${log}.1`);
    appendFileSync(`${log}.1`, 'ERROR late write to the old file\n');
    writeFileSync(log, 'ERROR first line of the new file\n');
    expect(await s.text()).toBe('ERROR late write to the old file');
    expect(await s.text()).toBe('ERROR first line of the new file');
    appendFileSync(log, 'ERROR appended to the new file\n');
    expect(await s.text()).toBe('ERROR appended to the new file');
  });

  it('follows truncation (copytruncate): reads from the start again', async () => {
    writeFileSync(log, 'a fairly long line to make the file bigger than what follows\n');
    const s = start([log, 'ERROR', '--poll-ms', '50']);
    await s.atEndOf(log);
    truncateSync(log, 0);
    appendFileSync(log, 'ERROR short\n');
    expect(await s.text()).toBe('ERROR short');
  });

  it('waits for a file that does not exist yet, then reads it from its start', async () => {
    const s = start([log, 'ERROR', '--poll-ms', '50']);
    await waitFor('log-stream to be running', () => procState(s.child.pid) === 'S');
    writeFileSync(log, 'ERROR in a new file\n');
    expect(await s.text()).toBe('ERROR in a new file');
  });

  it('exits when its parent goes away', async () => {
    writeFileSync(log, '');
    // sh starts log-stream, prints its pid, then becomes a sleep we kill.
    const parent = scope.spawn('sh', ['-c', '"$0" "$1" ERROR --poll-ms 50 & echo $!; exec sleep 60', detector('log-stream'), log], {
      env: hostEnv(),
    });
    const pid = Number(await Scope.line(parent, /^\d+$/));
    await waitFor('log-stream to run', () => procState(pid) === 'S');
    process.kill(parent.pid, 'SIGKILL');
    await waitFor('log-stream to exit', () => procState(pid) === undefined || procState(pid) === 'Z');
  });

  it('bad arguments: exit 2 with one line', async () => {
    for (const args of [[], [log], [log, '(x'], [log, 'x', '--severity', 'high'], [log, 'x', '--poll-ms', '1'], [log, 'x', 'y'], [log, 'x', '--entity', 'a/b']]) {
      const s = start(args);
      await Scope.exited(s.child);
      expect(s.child.exitCode, args.join(' ')).toBe(2);
      await waitFor('its stderr', () => s.said.length > 0);
      expect(s.said).toHaveLength(1);
      expect(s.lines).toHaveLength(0);
    }
  });
});
