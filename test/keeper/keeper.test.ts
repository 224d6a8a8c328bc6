// The keeper script itself: lint, and its protocol driven by hand (no HAM).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRecord } from '../../src/keeper/inbox.js';
import { decodeWaitStatus } from '../../src/keeper/link.js';
import { KEEPER_SCRIPT } from '../../src/paths.js';
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

function keeper(...argv: string[]) {
  return spawn('perl', [KEEPER_SCRIPT, kdir, inbox, 't', 'start', '--', ...argv], { stdio: 'ignore', detached: true });
}

describe('keeper.pl', () => {
  it('compiles cleanly under strict and warnings', () => {
    const out = execFileSync('perl', ['-Mstrict', '-Mwarnings', '-c', KEEPER_SCRIPT], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(out).toBe('');
  });

  it('reports K, S, X with the exact wait status, then obeys r (restart) and x (exit), ignoring stale answers', async () => {
    const k = keeper('perl', '-e', 'exit 5', `${dir}/marker`);
    await waitFor('K S X', () => records().length >= 3);
    const [kr, s, x] = records();
    expect(parseRecord(kr!)).toEqual({ kind: 'K', pid: k.pid });
    const started = parseRecord(s!);
    expect(started).toMatchObject({ kind: 'S' });
    const exited = parseRecord(x!);
    expect(exited).toMatchObject({ kind: 'X', pid: (started as { pid: number }).pid });
    expect(decodeWaitStatus((exited as { status: number }).status)).toEqual({ code: 5, signal: null, core: false });
    command('r 1'); // an answer to an older death: ignored
    command('r 3'); // restart
    await waitFor('second run', () => records().length >= 5);
    expect(records()[3]).toMatch(/^S \d+$/);
    command('x 5');
    await waitFor('keeper to exit', () => k.exitCode !== null);
    expect(k.exitCode).toBe(0);
  });

  it('an unexecutable command gives F with the errno', async () => {
    keeper('/nonexistent/program');
    await waitFor('K F', () => records().length >= 2);
    expect(parseRecord(records()[1]!)).toEqual({ kind: 'F', errno: osConstants.errno.ENOENT });
  });

  it('a signal death is reported as such, and SIGUSR1 detaches leaving the entity running', async () => {
    const k = keeper('perl', '-e', 'sleep 100000', `${dir}/marker`);
    await waitFor('K S', () => records().length >= 2);
    const pid = (parseRecord(records()[1]!) as { pid: number }).pid;
    process.kill(pid, 'SIGABRT');
    await waitFor('X', () => records().length >= 3);
    const st = decodeWaitStatus((parseRecord(records()[2]!) as { status: number }).status);
    expect(st.signal).toBe('SIGABRT');
    command('r 3');
    await waitFor('S again', () => records().length >= 4);
    const pid2 = (parseRecord(records()[3]!) as { pid: number }).pid;
    process.kill(k.pid!, 'SIGUSR1');
    await waitFor('keeper to exit', () => k.exitCode !== null);
    expect(startTime(pid2)).toBeDefined();
  });
});
