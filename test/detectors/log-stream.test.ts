// log-stream, the STREAM detector: follows a real file across appends,
// rotation and truncation; one JSON raise per matching line (checked with the
// host's own line parser) with the matched line as its "detail"; nothing on
// stderr while it runs.
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_LINE, parseLine } from '../../src/detector/stream.js';
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
  detail: string;
}

/** A running log-stream, the events it printed (stdout) and what it said on stderr. */
class Stream {
  readonly lines: string[] = [];
  readonly said: string[] = [];
  private cursor = 0;
  constructor(readonly child: ChildProcess & { pid: number }) {
    createInterface({ input: child.stdout! }).on('line', (l) => this.lines.push(l));
    createInterface({ input: child.stderr! }).on('line', (l) => this.said.push(l));
  }

  /** The next event, which the host must accept as it is (and within its line limit). */
  async next(ms = 10_000): Promise<Event> {
    const i = this.cursor;
    await waitFor(`event #${i + 1} from log-stream`, () => this.lines[i] !== undefined, ms);
    this.cursor++;
    const line = this.lines[i]!;
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_LINE);
    const parsed = parseLine(line);
    if ('error' in parsed) throw new Error(`the host would refuse ${line}: ${parsed.error}`);
    expect(parsed.event).toEqual(JSON.parse(line));
    return parsed.event as Event;
  }

  /** The next matched line, from the event's detail. */
  async text(): Promise<string> {
    return (await this.next()).detail;
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

/** As the host runs a stream: no timeout or interval in its environment. */
function streamEnv(env: Record<string, string> = {}): Record<string, string> {
  return hostEnv({ HAM_DETECTOR: 'log-stream', HAM_TIMEOUT_MS: '', HAM_INTERVAL_MS: '', ...env });
}

function start(args: string[], env: Record<string, string> = {}): Stream {
  const child = scope.spawn(detector('log-stream'), args, { env: streamEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  return new Stream(child);
}

describe('log-stream', () => {
  it('starts at the end of the file and raises once per matching line, flushed at once, the line as detail', async () => {
    writeFileSync(log, 'ERROR from before the start\nhalf a li');
    const s = start([log, 'ERROR|FATAL', '--poll-ms', '50']);
    await s.atEndOf(log);
    appendFileSync(log, 'ne with ERROR, written before and after the start\nGET / 200\nERROR one\n');
    expect(await s.next()).toEqual({ raise: { type: 'log-match', severity: 1 }, detail: 'ERROR one' });
    expect(s.lines[0]).toBe('{"raise":{"type":"log-match","severity":1},"detail":"ERROR one"}');
    appendFileSync(log, 'fine\nFATAL two\r\n');
    expect(await s.text()).toBe('FATAL two');
    expect(s.lines).toHaveLength(2);
    // The host keeps stderr's tail to say why a stream exited: nothing there.
    expect(s.said).toEqual([]);
  });

  it('--type, --severity and --entity shape the event, JSON-escaped', async () => {
    writeFileSync(log, '');
    const s = start([log, 'slow query', '--type', 'db "slow" \\ é', '--severity', '3', '--entity', 'db "primary"', '--poll-ms', '50']);
    await s.atEndOf(log);
    appendFileSync(log, 'slow query: 2.3 s\n');
    expect(await s.next()).toEqual({ entity: 'db "primary"', raise: { type: 'db "slow" \\ é', severity: 3 }, detail: 'slow query: 2.3 s' });
    expect(s.lines[0]).toBe('{"entity":"db \\"primary\\"","raise":{"type":"db \\"slow\\" \\\\ é","severity":3},"detail":"slow query: 2.3 s"}');
  });

  it('bytes that are not UTF-8 (in --type or the line) become U+FFFD; quotes, backslashes and control characters are escaped', async () => {
    writeFileSync(log, '');
    // Through sh's printf: node would re-encode argv as UTF-8.
    const child = scope.spawn('sh', ['-c', 'exec "$0" "$1" ERROR --poll-ms 50 --type "$(printf \'bad-\\377\\303-type\')"', detector('log-stream'), log], {
      env: streamEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const s = new Stream(child);
    await s.atEndOf(log);
    appendFileSync(log, Buffer.concat([Buffer.from('ERROR\ttab \x01ctl \x1b[31mred\x1b[0m "q" \\ café 🦀 '), Buffer.from([0xff, 0xc3]), Buffer.from('!\n')]));
    const event = await s.next();
    expect(event.raise.type).toBe('bad-\ufffd\ufffd-type');
    expect(event.detail).toBe('ERROR\ttab \x01ctl \x1b[31mred\x1b[0m "q" \\ café 🦀 \ufffd\ufffd!');
    expect(s.lines[0]).not.toMatch(/[\x00-\x1f\x7f]/);
    expect(s.lines[0]).toContain('"detail":"ERROR\\ttab \\u0001ctl \\u001b[31mred');
  });

  it('a long line: the detail is its first 1000 bytes, cut at a character, then …', async () => {
    writeFileSync(log, '');
    const s = start([log, 'ERROR', '--poll-ms', '50']);
    await s.atEndOf(log);
    // 999 ASCII bytes, then é (2 bytes) straddling byte 1000: cut before it.
    appendFileSync(log, `ERROR ${'x'.repeat(993)}é${'y'.repeat(5000)}\n`);
    expect(await s.text()).toBe(`ERROR ${'x'.repeat(993)}…`);
    // Exactly 1000 bytes: whole, no ellipsis.
    appendFileSync(log, `ERROR ${'z'.repeat(994)}\n`);
    expect(await s.text()).toBe(`ERROR ${'z'.repeat(994)}`);
    // Longer than it reads at once (64 KiB): matched on its head, raised once.
    appendFileSync(log, `ERROR huge ${'h'.repeat(200_000)}\nERROR after\n`);
    expect(await s.text()).toBe(`ERROR huge ${'h'.repeat(989)}…`);
    expect(await s.text()).toBe('ERROR after');
  });

  it('a line of control characters: shorter, so the escaped event stays within the host\'s line limit', async () => {
    writeFileSync(log, '');
    const type = '\x01'.repeat(128);
    const s = start([log, 'ERROR', '--poll-ms', '50', '--type', type, '--entity', '"'.repeat(128)]);
    await s.atEndOf(log);
    appendFileSync(log, `ERROR${'\x07'.repeat(3000)}\n`);
    const event = await s.next(); // checked: accepted, at most MAX_LINE bytes
    expect(event.raise.type).toBe(type);
    expect(event.detail).toMatch(/^ERROR\x07+…$/);
    expect(event.detail.length).toBeGreaterThan(200);
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
      env: streamEnv(),
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
