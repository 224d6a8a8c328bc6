// The keepers' output capture (keeper-log.c and the same in keeper.pl), driven
// by hand (no HAM): the line format, escaping, cutting, rotation, dropped
// writes, and the pipe's ownership when a keeper is SIGKILLed and another
// adopts its entity. The same tests for both keepers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLogLine, type LogLine } from '../../src/logs/line.js';
import { KEEPER_BINARY, KEEPER_SCRIPT } from '../../src/paths.js';
import { waitFor } from '../helpers/ham.js';
import { command, handKeeper, records } from '../helpers/keeper-hand.js';

const h = handKeeper('ham-klog-');

/** The raw lines of a log file ('' when there is none). */
function raw(file = 'current'): string[] {
  const p = join(h.logDir, file);
  return existsSync(p) ? readFileSync(p, 'utf8').split('\n').slice(0, -1) : [];
}

const parsed = (file = 'current'): LogLine[] => raw(file).flatMap((r) => parseLogLine('e', r) ?? []);

/** The numbers of lines "n 000123" in order (fixed width: a torn line is not taken for another). */
const numbers = (ls: LogLine[]): number[] => ls.flatMap((l) => (/^n \d{7}$/.test(l.line) ? [Number(l.line.slice(2))] : []));

describe('keeper-log.pl', () => {
  it('compiles cleanly under strict and warnings', () => {
    const out = execFileSync('perl', ['-Mstrict', '-Mwarnings', '-c', join(dirname(KEEPER_SCRIPT), 'keeper-log.pl')], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toBe('');
  });
});

const KEEPERS: [string, string[]][] = [
  ['the C keeper', [KEEPER_BINARY]],
  ['keeper.pl', ['perl', KEEPER_SCRIPT]],
];

describe.each(KEEPERS)('%s', (_name, [bin, ...pre]) => {
  function keeper(kdir: string, mode: string[], argv: string[], env: Record<string, string> = {}, wrap: string[] = []): ChildProcess {
    mkdirSync(kdir, { recursive: true });
    const cmd = [...wrap, bin!, ...pre, kdir, h.inbox, 't', ...mode, '--', ...argv];
    const k = spawn(cmd[0]!, cmd.slice(1), {
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, HAM_LOG_DIR: h.logDir, HAM_INSTANCE: '4', ...env },
    });
    h.started.push(k);
    return k;
  }

  it('writes each line with its time, stream and instance; escapes binary; cuts long lines; a restart is the next instance', async () => {
    const kdir = join(h.dir, 'k');
    const script = 'print "hello\\n"; print STDERR "oops\\n"; print "a\\tb\\\\c\\x01\\xff\\xc3\\xa9\\n"; print "x" x 20000, "\\n"; print "no newline"';
    keeper(kdir, ['start'], ['perl', '-e', script, `${h.dir}/marker`]);
    await waitFor('the first death', () => records(h.inbox).length >= 4);
    command(kdir, 'r 4');
    await waitFor('the second death', () => records(h.inbox).length >= 7);
    command(kdir, 'x 7');
    const ls = parsed();
    const runs = [4, 5].map((i) => ls.filter((l) => l.instance === i));
    for (const run of runs) {
      // Each stream in its order (the two pipes are read in turns: their lines may interleave either way).
      expect(run.filter((l) => l.stream === 'stdout').map((l) => l.line.slice(0, 40))).toEqual([
        'hello',
        'a\tb\\c\\x01\\xffé',
        'x'.repeat(40),
        'x'.repeat(40),
        'no newline',
      ]);
      expect(run.filter((l) => l.stream === 'stderr').map((l) => l.line)).toEqual(['oops']);
      const xs = run.filter((l) => l.line.startsWith('x'));
      expect(xs[0]!.line).toBe(`${'x'.repeat(16384)} [ham: line cut at 16384 bytes]`);
      expect(xs[1]!.line).toBe('x'.repeat(20000 - 16384));
    }
    // As stored: escaped, so the file is text whatever the command wrote.
    expect(raw().find((r) => r.includes(' a\\t'))).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z out 4 a\\tb\\\\c\\x01\\xffé$/);
    expect(statSync(join(h.logDir, 'current')).mode & 0o777).toBe(0o600);
    const t = Date.parse(ls[0]!.time);
    expect(Math.abs(t - Date.now())).toBeLessThan(10 * 60_000); // UTC, not local time
  });

  it('a line without its newline goes out after a second as it is (a prompt), and what follows is the next line', async () => {
    const kdir = join(h.dir, 'k');
    const go = join(h.dir, 'go');
    const script = `$| = 1; print "prompt> "; select(undef, undef, undef, 0.05) until -e '${go}'; print "answered\\n"; sleep 30`;
    keeper(kdir, ['start'], ['perl', '-e', script, `${h.dir}/marker`]);
    await waitFor('the prompt in the log', () => parsed().some((l) => l.line === 'prompt> '));
    expect(records(h.inbox)).toHaveLength(3); // K P S: it still runs
    writeFileSync(go, '');
    await waitFor('the next line', () => parsed().some((l) => l.line === 'answered'));
    expect(parsed().map((l) => l.line)).toEqual(['prompt> ', 'answered']);
  });

  it('rotates at maxBytes, keeping `keep` older files, with nothing lost across the files kept', async () => {
    const kdir = join(h.dir, 'k');
    const script = 'for my $i (1..3000) { printf "n %07d\\n", $i }';
    keeper(kdir, ['start'], ['perl', '-e', script, `${h.dir}/marker`], { HAM_LOG_MAX_BYTES: '8192', HAM_LOG_KEEP: '2' });
    await waitFor('the death', () => records(h.inbox).length >= 4);
    command(kdir, 'x 4');
    const files = readdirSync(h.logDir).filter((f) => !f.startsWith('.'));
    expect(files.sort()).toEqual(['1', '2', 'current']);
    for (const f of files) expect(statSync(join(h.logDir, f)).size).toBeLessThanOrEqual(8192);
    const ns = numbers([...parsed('2'), ...parsed('1'), ...parsed('current')]);
    expect(ns.at(-1)).toBe(3000);
    expect(ns[0]).toBeGreaterThan(1); // the oldest went
    expect(ns).toEqual(Array.from({ length: ns.length }, (_, i) => ns[0]! + i));
  });

  it('SIGKILLed while its entity writes fast: the entity runs on (no SIGPIPE), and the keeper adopting it reads on', async () => {
    const script = '$| = 1; for (my $i = 1; ; $i++) { printf "n %07d\\n", $i; select(undef, undef, undef, 0.0005) if $i % 50 == 0 }';
    const k = keeper(join(h.dir, 'k1'), ['start'], ['perl', '-e', script, `${h.dir}/marker`], { HAM_LOG_MAX_BYTES: String(64 << 20) });
    await waitFor('the entity h.started', () => records(h.inbox).length >= 3);
    const pid = Number(records(h.inbox)[2]!.split(' ')[1]);
    await waitFor('lines in the log', () => numbers(parsed()).length > 2000);
    process.kill(k.pid!, 'SIGKILL');
    await waitFor('the keeper gone', () => !existsSync(`/proc/${k.pid}`) || readFileSync(`/proc/${k.pid}/stat`, 'utf8').includes(') Z'));
    const before = numbers(parsed()).at(-1)!;
    keeper(join(h.dir, 'k2'), ['adopt', String(pid)], [], {}, []);
    await waitFor('lines well after the adoption', () => (numbers(parsed()).at(-1) ?? 0) > before + 20_000, 60_000);
    // The same process, alive and not a zombie: it never got SIGPIPE.
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/\) [RSD] /);
    const ns = numbers(parsed());
    for (let i = 1; i < ns.length; i++) expect(ns[i]).toBeGreaterThan(ns[i - 1]!); // nothing twice
    const after = ns.filter((n) => n > before);
    // From where the adopting keeper took over, every line: what waited in the pipe too.
    const from = ns.indexOf(after[0]!);
    const tail = ns.slice(from + 1);
    const missing = tail.filter((n, i) => n !== (i === 0 ? ns[from]! + 1 : tail[i - 1]! + 1)).length;
    expect(missing).toBeLessThanOrEqual(1); // at most the one gap: what the killed keeper had read and not written
  });

  it('detached (SIGUSR1) while its entity writes: the entity runs on unblocked, its output drained until it ends', async () => {
    const script = '$| = 1; for (my $i = 1; ; $i++) { printf "n %07d\\n", $i }';
    const k = keeper(join(h.dir, 'k'), ['start'], ['perl', '-e', script, `${h.dir}/marker`], { HAM_LOG_MAX_BYTES: String(256 << 20) });
    await waitFor('the entity h.started', () => records(h.inbox).length >= 3);
    const pid = Number(records(h.inbox)[2]!.split(' ')[1]);
    await waitFor('lines', () => numbers(parsed()).length > 1000);
    process.kill(k.pid!, 'SIGUSR1');
    const at = numbers(parsed()).at(-1)!;
    // Far more than the pipe holds (1 MiB is ~100,000 of these lines): someone drains it.
    await waitFor('lines well past the detach', () => (numbers(parsed()).at(-1) ?? 0) > at + 300_000, 60_000);
    expect(records(h.inbox)).toHaveLength(3); // no more records: it is gone to the HAM
    expect(readFileSync(`/proc/${k.pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim()).toBe(`ham-log-drain ${h.logDir}`); // no keeper now
    process.kill(pid, 'SIGKILL');
    await waitFor('the keeper gone with its entity', () => !existsSync(`/proc/${k.pid}`) || readFileSync(`/proc/${k.pid}/stat`, 'utf8').includes(') Z'));
  });

  it.each([
    ['a FIFO', (f: string) => execFileSync('mkfifo', [f]), /is a FIFO, not a regular file/],
    ['a symlink', (f: string) => symlinkSync(join(h.dir, 'elsewhere'), f), /is a symbolic link \(never followed\), not a regular file/],
  ] as const)('`current` planted as %s before start: the keeper never blocks, says so in log-problem, the entity runs', async (_what, plant, said) => {
    mkdirSync(h.logDir, { recursive: true });
    plant(join(h.logDir, 'current'));
    const kdir = join(h.dir, 'k');
    const done = join(h.dir, 'done');
    // 3 MB (past any pipe buffer: it ends only if the keeper reads on, dropping the lines), then `done`.
    const script = `$| = 1; print "x" x 1000, "\\n" for 1..3000; open my $f, ">", "${done}"; sleep 1000`;
    keeper(kdir, ['start'], ['perl', '-e', script, `${h.dir}/marker`]);
    await waitFor('K P S recorded (the keeper did not hang)', () => records(h.inbox).length >= 3, 30_000);
    expect(readFileSync(join(kdir, 'log-problem'), 'utf8')).toMatch(new RegExp(`^the log file ${h.logDir}/current ${said.source}: its lines are dropped\n$`));
    await waitFor('the entity wrote all its output, unblocked', () => existsSync(done), 60_000);
    expect(existsSync(join(h.dir, 'elsewhere'))).toBe(false); // the symlink was not followed
    expect(lstatSync(join(h.logDir, 'current')).isFile()).toBe(false); // left as it was, for the operator
  });

  it('a write that fails drops lines and counts them, never stalls the entity, and says how many once writing works again', async () => {
    const kdir = join(h.dir, 'k');
    const done = join(h.dir, 'done');
    // 200,000 lines (more than the pipe holds: the keeper must drain it), a marker file, then a line a moment.
    const script = `$| = 1; printf "n %07d\\n", $_ for 1..200000; open(my $f, '>', '${done}'); close $f; for (my $i = 200001; ; $i++) { printf "n %07d\\n", $i; select(undef, undef, undef, 0.05) }`;
    // A file-size limit stands in for a full disk: writes past 8 KiB fail (EFBIG; SIGXFSZ is ignored).
    const k = keeper(kdir, ['start'], ['perl', '-e', script, `${h.dir}/marker`], {}, ['prlimit', '--fsize=8192:unlimited', '--']);
    await waitFor('the entity wrote everything (it never waited on the disk)', () => existsSync(done));
    spawn('prlimit', ['--pid', String(k.pid), '--fsize=unlimited:unlimited'], { stdio: 'ignore' });
    await waitFor('the note and lines after it', () => {
      const ls = parsed();
      const at = ls.findIndex((l) => l.stream === 'ham');
      return at >= 0 && numbers(ls.slice(at)).length > 0;
    });
    const ls = parsed();
    const note = ls.find((l) => l.stream === 'ham')!;
    expect(note.line).toMatch(/^\[ham: \d+ lines dropped: the log could not be written \(.+\)\]$/);
    const dropped = Number(/(\d+) lines dropped/.exec(note.line)![1]);
    const ns = numbers(ls);
    expect(dropped).toBeGreaterThan(1000);
    // Every line up to the last is in the file or counted as dropped (a line torn at the limit may be both).
    expect(ns.length + dropped).toBeGreaterThanOrEqual(ns.at(-1)!);
    expect(ns.length + dropped).toBeLessThanOrEqual(ns.at(-1)! + 1);
  });
});
