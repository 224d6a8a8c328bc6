// The keepers themselves (the C one and the Perl fallback): their protocol driven
// by hand (no HAM), the same test for both.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRecord } from '../../src/keeper/inbox.js';
import { decodeWaitStatus } from '../../src/keeper/link.js';
import { KEEPER_BINARY, KEEPER_SCRIPT } from '../../src/paths.js';
import { startTime } from '../../src/proc/procfs.js';
import { killAll, waitFor } from '../helpers/ham.js';

let dir: string;
let inbox: string;
let kdir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-keeper-'));
  inbox = join(dir, 'inbox');
  kdir = join(dir, 'k');
  mkdirSync(inbox);
  mkdirSync(kdir);
});
afterEach(() => {
  killAll(dir);
  rmSync(dir, { recursive: true, force: true });
});

/** The records in the inbox, in sequence order. */
function records(): string[] {
  return readdirSync(inbox)
    .filter((f) => /^t-\d+$/.test(f))
    .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)))
    .map((f) => readFileSync(join(inbox, f), 'utf8').trim());
}

function command(line: string): void {
  const fd = openSync(join(kdir, 'ctl'), constants.O_WRONLY | constants.O_NONBLOCK);
  writeSync(fd, `${line}\n`);
  closeSync(fd);
}

describe('keeper.pl', () => {
  it('compiles cleanly under strict and warnings', () => {
    const out = execFileSync('perl', ['-Mstrict', '-Mwarnings', '-c', KEEPER_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
  });
});

describe('the C keeper', () => {
  it('was built at install (CI installs a compiler)', () => {
    expect(existsSync(KEEPER_BINARY), `${KEEPER_BINARY}: run \`npm run build\` with a C compiler`).toBe(true);
  });
});

const KEEPERS: [string, string[]][] = [
  ['the C keeper', [KEEPER_BINARY]],
  ['keeper.pl', ['perl', KEEPER_SCRIPT]],
];

describe.each(KEEPERS)('%s', (_name, [bin, ...pre]) => {
  function keeper(...argv: string[]) {
    return spawn(bin!, [...pre, kdir, inbox, 't', 'start', '--', ...argv], { stdio: 'ignore', detached: true });
  }

  function keeperAlone(aloneMs: number, ...argv: string[]) {
    return spawn(bin!, [...pre, kdir, inbox, 't', 'start', '--', ...argv], {
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, HAM_KEEPER_ALONE_MS: String(aloneMs) },
    });
  }

  it('reports K, P, S, X with the exact wait status, then obeys r and x, ignoring stale answers', async () => {
    const k = keeper('perl', '-e', 'exit 5', `${dir}/marker`);
    await waitFor('K P S X', () => records().length >= 4);
    const [kr, p, s, x] = records().map(parseRecord);
    expect(kr).toEqual({ kind: 'K', pid: k.pid });
    expect(p).toMatchObject({ kind: 'P' });
    expect(s).toEqual({ kind: 'S', pid: (p as { pid: number }).pid });
    expect(x).toMatchObject({ kind: 'X', pid: (p as { pid: number }).pid });
    expect(decodeWaitStatus((x as { status: number }).status)).toEqual({ code: 5, signal: null, core: false });
    // A stale "exit" (an answer to record 1) must be ignored: a keeper that obeyed it would
    // exit now and the restart below would never show.
    command('x 1');
    command('r 4');
    await waitFor('the second run: P S X', () => records().length >= 7);
    expect(
      records()
        .slice(4)
        .map((r) => r.split(' ')[0]),
    ).toEqual(['P', 'S', 'X']);
    expect(k.exitCode).toBeNull();
    command('x 7');
    await waitFor('keeper to exit', () => k.exitCode !== null);
    expect(k.exitCode).toBe(0);
  });

  it('a standing order: restarts at once (X ... o, then P S) as many times as it says, then asks and drops it', async () => {
    const k = keeper('perl', '-e', 'sleep 100000', `${dir}/marker`);
    await waitFor('K P S', () => records().length >= 3);
    const pidAt = (i: number): number => (parseRecord(records()[i]!) as { pid: number }).pid;
    // Ignored: made before records the HAM had not seen (seq 2), and, once an epoch-5 order is taken, an older epoch's.
    command('o 5 2 9 0');
    command('o 5 3 2 0'); // taken: 2 restarts
    command('o 4 3 6 0');
    command('x 3'); // not an answer to any death: dropped
    process.kill(pidAt(2), 'SIGKILL');
    await waitFor('X o P S', () => records().length >= 6);
    expect(parseRecord(records()[3]!)).toEqual({ kind: 'X', pid: pidAt(2), status: 9, ordered: true });
    expect(
      records()
        .slice(4, 6)
        .map((r) => r[0]),
    ).toEqual(['P', 'S']);
    process.kill(pidAt(5), 'SIGKILL');
    await waitFor('X o P S again', () => records().length >= 9);
    expect(parseRecord(records()[6]!)).toMatchObject({ kind: 'X', ordered: true });
    process.kill(pidAt(8), 'SIGKILL');
    await waitFor('X (asking: the order is used up)', () => records().length >= 10);
    expect(parseRecord(records()[9]!)).toEqual({ kind: 'X', pid: pidAt(8), status: 9 });
    expect(k.exitCode).toBeNull();
    command('r 10');
    await waitFor('P S after the answer', () => records().length >= 12);
    // A new order, then one that needs a long uptime (it replaces it), then a revoke whatever its seq.
    command('o 5 12 6 0');
    command('o 5 12 6 600000');
    process.kill(pidAt(11), 'SIGKILL');
    await waitFor('X (too young for the order)', () => records().length >= 13);
    expect(parseRecord(records()[12]!)).toEqual({ kind: 'X', pid: pidAt(11), status: 9 });
    command('r 13');
    await waitFor('P S', () => records().length >= 15);
    command('o 5 15 6 0');
    command('o 5 1 0 0'); // revoke
    process.kill(pidAt(14), 'SIGKILL');
    await waitFor('X (revoked)', () => records().length >= 16);
    expect(parseRecord(records()[15]!)).toMatchObject({ kind: 'X', status: 9 });
    expect(parseRecord(records()[15]!)).not.toHaveProperty('ordered');
    command('x 16');
    await waitFor('keeper to exit', () => k.exitCode !== null);
  });

  it('an order naming a record before the last one written is not taken: the next death asks', async () => {
    // An order written after the death (and so after the records it does not name) is not taken for it.
    const k = keeper('perl', '-e', 'exit 3', `${dir}/marker`);
    await waitFor('K P S X', () => records().length >= 4);
    command('o 1 3 6 0'); // names seq 3: the keeper is at 4
    command('r 4');
    await waitFor('P S X', () => records().length >= 7);
    expect(
      records()
        .slice(4)
        .map((r) => r.split(' ').length),
    ).toEqual([2, 2, 3]); // no " o": it asked again
    command('x 7');
    await waitFor('keeper to exit', () => k.exitCode !== null);
  });

  it('an unexecutable command gives F with the errno', async () => {
    keeper('/nonexistent/program');
    await waitFor('K P F', () => records().length >= 3);
    expect(parseRecord(records()[1]!)).toMatchObject({ kind: 'P' });
    expect(parseRecord(records()[2]!)).toEqual({ kind: 'F', errno: osConstants.errno.ENOENT });
  });

  it('a signal death is reported as such, and SIGUSR1 detaches leaving the entity running', async () => {
    const k = keeper('perl', '-e', 'sleep 100000', `${dir}/marker`);
    await waitFor('K P S', () => records().length >= 3);
    const pid = (parseRecord(records()[2]!) as { pid: number }).pid;
    process.kill(pid, 'SIGABRT');
    await waitFor('X', () => records().length >= 4);
    const st = decodeWaitStatus((parseRecord(records()[3]!) as { status: number }).status);
    expect(st.signal).toBe('SIGABRT');
    command('r 4');
    await waitFor('P S again', () => records().length >= 6);
    const pid2 = (parseRecord(records()[5]!) as { pid: number }).pid;
    process.kill(k.pid!, 'SIGUSR1');
    await waitFor('keeper to exit', () => k.exitCode !== null);
    expect(startTime(pid2)).toBeDefined();
  });

  it('after a death, waits while a HAM holds life open, and exits after HAM_KEEPER_ALONE_MS alone (its record stays)', async () => {
    const env = `${dir}/env`;
    const k = keeperAlone(
      200,
      'perl',
      '-e',
      `$SIG{USR1} = sub { exit 3 }; open(my $f, ">", "${env}"); print $f (exists $ENV{HAM_KEEPER_ALONE_MS} ? "leaked" : "clean"); close $f; sleep 100000 while 1`,
    );
    await waitFor('K P S', () => records().length >= 3);
    // A HAM: the read end of life, there before the death. The keeper's probes (one byte
    // each) come through it; more probes than the bound allows alone, and it still waits.
    const life = openSync(join(kdir, 'life'), constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      await waitFor('the command ran', () => existsSync(env)); // its USR1 handler is set before it writes the file
      process.kill((parseRecord(records()[2]!) as { pid: number }).pid, 'SIGUSR1');
      await waitFor('X', () => records().length >= 4);
      expect(readFileSync(env, 'utf8')).toBe('clean'); // the keeper's own setting is not the command's
      let probes = 0;
      const buf = Buffer.alloc(64);
      await waitFor(
        'probes spanning twice the bound',
        () => {
          try {
            probes += readSync(life, buf, 0, 64, null);
          } catch {
            /* EAGAIN: nothing yet */
          }
          return probes >= 8;
        },
        20_000,
        50,
      );
      expect(k.exitCode).toBeNull();
    } finally {
      closeSync(life);
    }
    await waitFor('keeper to exit once alone', () => k.exitCode !== null);
    expect(k.exitCode).toBe(0);
    expect(parseRecord(records()[3]!)).toMatchObject({ kind: 'X' }); // left for the next HAM
  });
});
