// Review: an entity's output is now a FIFO that only a keeper reads. A process of the entity that
// outlives its keeper (here one that left the group with setsid, as a daemonizing program does) blocks
// for ever on its stdout once the pipe's 64 KiB are full: nothing reads, and its own read-write end
// means no SIGPIPE/EPIPE either. Before the round its output went to a file and it never waited.
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { findProcesses } from '../../src/proc/procfs.js';
import { hamJson, keepersWith, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';
import { entity } from '../helpers/entities.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

it('a survivor of a detached entity can still write its output', async () => {
  t = tempHome();
  const go = join(t.home, 'go');
  const done = join(t.home, 'done');
  const marker = join(t.home, 'web');
  await hamJson(t.home, ['start']);
  const script =
    'use POSIX; if (!fork) { setsid(); select(undef,undef,undef,0.1) until -e $ARGV[0]; $| = 1; print "x" x 1000, "\\n" for 1..3000; open my $f, ">", $ARGV[1]; close $f; exit 0 } sleep 100000';
  await hamJson(t.home, ['attach', 'web', '--', 'perl', '-e', script, go, done, marker]);
  await waitFor('web running', async () => entity(await status(t.home), 'web').state === 'running', 30_000);
  const pid = entity(await status(t.home), 'web').pid!;
  await hamJson(t.home, ['detach', 'web']); // its keeper drains its output until it exits
  process.kill(pid, 'SIGKILL'); // the main process ends; its setsid child lives on
  const drains = (): number[] => findProcesses((a) => a[0]!.startsWith('ham-log-drain') && a[0]!.includes(t.home));
  await waitFor('its keeper gone', () => keepersWith(marker).length === 0 && drains().length === 0, 30_000);
  writeFileSync(go, '');
  await waitFor('the survivor wrote 3 MB and finished', () => existsSync(done), 20_000).catch((e: Error) => {
    process.stderr.write(execSync(`ps -eo pid,stat,wchan:20,args | grep -v grep | grep ${go}`).toString());
    throw e;
  });
  expect(existsSync(done)).toBe(true);
}, 120_000);

it('an entity whose keeper was killed while the pair is down goes on writing', async () => {
  t = tempHome();
  const marker = join(t.home, 'w');
  const count = join(t.home, 'count');
  await hamJson(t.home, ['start']);
  // Writes 1000-byte lines and counts them in a file (its progress), forever.
  const script =
    '$| = 1; for (my $i = 1; ; $i++) { print "x" x 1000, "\\n"; if ($i % 100 == 0) { open my $f, ">", $ARGV[0]; print $f $i; close $f } select(undef,undef,undef,0.001) }';
  await hamJson(t.home, ['attach', 'w', '--', 'perl', '-e', script, count, marker]);
  await waitFor('w running', async () => entity(await status(t.home), 'w').state === 'running', 30_000);
  await hamJson(t.home, ['stop']); // the pair goes; entities and their keepers stay
  const [keeper] = keepersWith(marker);
  expect(keeper).toBeGreaterThan(0);
  process.kill(keeper!, 'SIGKILL');
  await waitFor('its keeper gone', () => keepersWith(marker).length === 0, 30_000);
  const at = (): number => Number(readFileSync(count, 'utf8') || 0);
  const then = at();
  // 3000 more lines (3 MB: past any pipe buffer) in a generous deadline.
  await waitFor('w still writing', () => at() > then + 3000, 60_000).catch((e: Error) => {
    process.stderr.write(execSync(`ps -eo pid,stat,wchan:20,args | grep -v grep | grep ${count}`).toString());
    throw e;
  });
}, 120_000);
