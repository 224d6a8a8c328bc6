// The keepers' drain (keeper-drain.c, log_linger in keeper-log.pl), driven by hand (no HAM): once the
// entity's main process is gone, a process it left behind (a setsid child, as a daemonizing program
// makes) still holds the output FIFOs. Nobody else reads them: the keeper must, until that process
// ends, or it blocks for ever once the pipe is full. The same tests for both keepers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLogLine } from '../../src/logs/line.js';
import { KEEPER_BINARY, KEEPER_SCRIPT } from '../../src/paths.js';
import { waitFor } from '../helpers/ham.js';
import { command, handKeeper, records } from '../helpers/keeper-hand.js';

const h = handKeeper('ham-kdrain-');
// 3 MB written a line a write through a drain: far past the default test timeout on a loaded 2-core machine.
const SLOW = 180_000;

const gone = (pid: number): boolean => !existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z');
const cmdline = (pid: number): string => readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();

/** The numbers of the lines "n 0000123" in the log. */
function numbers(): number[] {
  const p = join(h.logDir, 'current');
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .flatMap((r) => parseLogLine('e', r) ?? [])
    .flatMap((l) => (/^n \d{7}x*$/.test(l.line) ? [Number(l.line.slice(2, 9))] : []));
}

// A child that leaves the group, waits for `go`, writes 3 MB (past any pipe buffer: someone must read),
// then makes `done` and exits; the main process sleeps (or exits at once with `quick`).
const survivor = (go: string, done: string, quick: boolean): string =>
  `use POSIX; if (!fork) { setsid(); open my $r, ">", '${go}.forked'; close $r; select(undef,undef,undef,0.05) until -e '${go}'; $| = 1; printf "n %07d%s\\n", $_, "x" x 990 for 1..3000; open my $f, ">", '${done}'; close $f; exit 0 } ${quick ? 'exit 0' : 'sleep 100000'}`;

const KEEPERS: [string, string[]][] = [
  ['the C keeper', [KEEPER_BINARY]],
  ['keeper.pl', ['perl', KEEPER_SCRIPT]],
];

describe.each(KEEPERS)('%s', (_name, [bin, ...pre]) => {
  function keeper(argv: string[], kname = 'k', box = h.inbox, instance = '1'): { k: ChildProcess; kdir: string } {
    const kdir = join(h.dir, kname);
    mkdirSync(kdir, { recursive: true });
    mkdirSync(box, { recursive: true });
    const k = spawn(bin!, [...pre, kdir, box, 't', 'start', '--', ...argv], {
      stdio: 'ignore',
      detached: true,
      env: { ...process.env, HAM_LOG_DIR: h.logDir, HAM_INSTANCE: instance },
    });
    h.started.push(k);
    return { k, kdir };
  }

  it(
    'told to exit after its command ended: drains while a process the command left writes, then exits',
    async () => {
      const [go, done] = [join(h.dir, 'go'), join(h.dir, 'done')];
      const { k, kdir } = keeper(['perl', '-e', survivor(go, done, true), `${h.dir}/marker`]);
      await waitFor('the death record', () => records(h.inbox).length >= 4);
      expect(records(h.inbox)[3]).toMatch(/^X \d+ 0$/);
      command(kdir, 'x 4');
      await waitFor('a drainer now', () => gone(k.pid!) || cmdline(k.pid!) === `ham-log-drain ${h.logDir}`);
      expect(gone(k.pid!)).toBe(false); // the survivor holds the FIFOs: the keeper stays, as a drainer
      writeFileSync(go, '');
      await waitFor('the survivor wrote 3 MB and finished', () => existsSync(done), 150_000);
      await waitFor('the drainer gone once nobody holds the FIFOs', () => gone(k.pid!), 30_000);
      expect(numbers()).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1)); // every line, once
      expect(records(h.inbox)).toHaveLength(4); // nothing more to the HAM
    },
    SLOW,
  );

  it(
    'draining after its exit, then SIGUSR1 (as `ham stop --all` sends a keeper it finds alive): drains on',
    async () => {
      const [go, done] = [join(h.dir, 'go'), join(h.dir, 'done')];
      const { k, kdir } = keeper(['perl', '-e', survivor(go, done, true), `${h.dir}/marker`]);
      await waitFor('the death record', () => records(h.inbox).length >= 4);
      command(kdir, 'x 4');
      await waitFor('a drainer now', () => gone(k.pid!) || cmdline(k.pid!) === `ham-log-drain ${h.logDir}`);
      expect(gone(k.pid!)).toBe(false);
      process.kill(k.pid!, 'SIGUSR1');
      process.kill(k.pid!, 'SIGUSR1'); // twice: each must be ignored
      writeFileSync(go, '');
      await waitFor('the survivor wrote 3 MB and finished (not blocked)', () => existsSync(done), 150_000);
      await waitFor('the drainer gone once nobody holds the FIFOs', () => gone(k.pid!), 30_000);
      expect(numbers()).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1)); // every line, once
    },
    SLOW,
  );

  it(
    'detached, then its command ends: drains on while the process it left writes',
    async () => {
      const [go, done] = [join(h.dir, 'go'), join(h.dir, 'done')];
      const { k } = keeper(['perl', '-e', survivor(go, done, false), `${h.dir}/marker`]);
      await waitFor('the entity h.started', () => records(h.inbox).length >= 3);
      const pid = Number(records(h.inbox)[2]!.split(' ')[1]);
      process.kill(k.pid!, 'SIGUSR1');
      await waitFor('a drainer now', () => cmdline(k.pid!) === `ham-log-drain ${h.logDir}`);
      // Forked: a main process killed before perl forks (it starts slowly) leaves no survivor to write.
      await waitFor('the survivor there', () => existsSync(`${go}.forked`));
      process.kill(pid, 'SIGKILL');
      await waitFor('the main process gone', () => gone(pid));
      process.kill(k.pid!, 'SIGUSR1'); // a second detach (`ham stop --all`) while it drains: ignored
      writeFileSync(go, '');
      await waitFor('the survivor wrote 3 MB and finished', () => existsSync(done), 150_000);
      await waitFor('the drainer gone once nobody holds the FIFOs', () => gone(k.pid!), 30_000);
      expect(numbers()).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    },
    SLOW,
  );

  it('told to exit with nobody else holding the FIFOs: exits (no drain left behind)', async () => {
    const { k, kdir } = keeper(['perl', '-e', 'print "n 0000001\\n"', `${h.dir}/marker`]);
    await waitFor('the death record', () => records(h.inbox).length >= 4);
    command(kdir, 'x 4');
    await waitFor('the keeper gone', () => gone(k.pid!), 30_000);
    expect(numbers()).toEqual([1]);
  });

  it(
    'a new keeper for the same log folder while a drain lives: the drain leaves the FIFOs to it (one reader)',
    async () => {
      const [go, done] = [join(h.dir, 'go'), join(h.dir, 'done')];
      const old = keeper(['perl', '-e', survivor(go, done, true), `${h.dir}/marker`]);
      await waitFor('the death record', () => records(h.inbox).length >= 4);
      command(old.kdir, 'x 4');
      await waitFor('a drainer now', () => gone(old.k.pid!) || cmdline(old.k.pid!) === `ham-log-drain ${h.logDir}`);
      expect(gone(old.k.pid!)).toBe(false); // the survivor holds the FIFOs
      // The name attached again: a new keeper (its own folder and h.inbox, as a new serial has), the same log folder.
      const script = '$| = 1; printf "n %07d\\n", $_ for 1..2000; sleep 100000';
      keeper(['perl', '-e', script, `${h.dir}/marker`], 'k2', join(h.dir, 'inbox2'), '7');
      const lines = (): { instance: number; line: string }[] =>
        existsSync(join(h.logDir, 'current'))
          ? readFileSync(join(h.logDir, 'current'), 'utf8')
              .split('\n')
              .flatMap((r) => parseLogLine('e', r) ?? [])
          : [];
      const plain = (): { instance: number; line: string }[] => lines().filter((l) => /^n \d{7}$/.test(l.line));
      await waitFor("the new command's 2000 lines", () => plain().length >= 2000, 60_000);
      await waitFor('the drain gone', () => gone(old.k.pid!), 30_000);
      // Every line read by the new keeper (its instance), once and in order: no second reader took any.
      expect(plain().map((l) => `${l.instance} ${l.line}`)).toEqual(Array.from({ length: 2000 }, (_, i) => `7 n ${String(i + 1).padStart(7, '0')}`));
      writeFileSync(go, '');
      await waitFor('the survivor wrote 3 MB (the new keeper reads it)', () => existsSync(done), 150_000);
    },
    SLOW,
  );
});
