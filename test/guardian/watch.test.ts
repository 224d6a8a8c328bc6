// The pair's watch (guardian/watch.c) against real processes: an idle Node
// event loop is proof of life; stopped or spinning is "busy"; back in
// epoll_wait is "idle"; the watched process gone ends the watch.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { WATCH_BINARY } from '../../src/paths.js';
import { procId } from '../../src/proc/procfs.js';
import { waitFor } from '../helpers/ham.js';

const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A Node process that says "up" once its event loop runs, then runs `code` (after the write, so a spin cannot stop it). */
async function node(code: string): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['-e', `process.stdout.write('up\\n', () => { ${code} })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('node up', () => out.includes('up'), 20_000);
  return c;
}

function watch(pid: number, periodMs: number): { child: ChildProcess; lines: string[] } {
  const id = procId(pid)!;
  const child = spawn(WATCH_BINARY, [String(pid), String(id.start), String(periodMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child);
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return { child, lines };
}

describe('the pair watch', () => {
  it('was built at install (CI installs a compiler)', () => {
    expect(existsSync(WATCH_BINARY), `${WATCH_BINARY}: run \`npm run build\` with a C compiler`).toBe(true);
  });

  it('reports a stopped process busy, idle again once it is continued, and ends when it is gone', async () => {
    // Idle: one timer far away, so the loop sleeps in epoll_wait.
    const n = await node('setInterval(() => {}, 1e9)');
    const w = watch(n.pid!, 50);
    process.kill(n.pid!, 'SIGSTOP');
    await waitFor('busy', () => w.lines.some((l) => l.startsWith('busy ')), 20_000);
    const busyAt = w.lines.findIndex((l) => l.startsWith('busy '));
    const [age, at] = w.lines[busyAt]!.slice(5).split(' ').map(Number);
    expect(age).toBeGreaterThanOrEqual(0);
    expect(at).toBeGreaterThan(0);
    process.kill(n.pid!, 'SIGCONT');
    await waitFor('idle after busy', () => w.lines.indexOf('idle', busyAt) > busyAt, 20_000);
    n.kill('SIGKILL');
    await waitFor('the watch to end', () => w.child.exitCode !== null, 20_000);
    expect(w.child.exitCode).toBe(0);
  });

  it('reports a spinning event loop busy', async () => {
    const n = await node('for (;;) {}');
    const w = watch(n.pid!, 50);
    await waitFor('busy', () => w.lines.some((l) => l.startsWith('busy ')), 20_000);
    expect(w.lines).not.toContain('idle');
  });

  it('does not take a partner that keeps running and sleeping for one whose wait channel is hidden', async () => {
    // Running at the wait-channel read ("0"), asleep by the stat read: once said "blind" at once,
    // and the pair beat for good (a loaded machine, a busy HAM at the Guardian's start).
    const p = spawn(
      'perl',
      [
        '-e',
        '$|=1; use Time::HiRes qw(time sleep); for ($i = 1; ; $i++) { my $t = time; while (time - $t < 0.0005) {} sleep 0.0005; print "$i\n" if $i % 200 == 0 }',
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    started.push(p);
    let out = '';
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor('the partner running', () => out.length > 0, 20_000);
    const ws = [1, 2, 3, 4].map(() => watch(p.pid!, 50));
    // 2000 more run/sleep cycles of the partner, some hundreds of samples by each watch.
    const from = Number(out.trim().split('\n').pop());
    await waitFor('2000 partner cycles', () => Number(out.trim().split('\n').pop()) >= from + 2000, 60_000);
    for (const w of ws) {
      expect(w.lines).not.toContain('blind');
      expect(w.child.exitCode).toBeNull();
    }
  });
});
