// The daemons' nanny (guardian/nanny.c) against real processes: it exits with
// its child's exact status, passes SIGTERM on, and alerts the partner its
// child names (SIGUSR2) when the child stops, continues or spins, never a
// process whose pid is reused. Its socket is inherited (no name to reach), and a
// daemon that cannot open it runs watched, never exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { NANNY_BINARY } from '../../src/paths.js';
import { childrenOf, procId } from '../../src/proc/procfs.js';
import { waitFor } from '../helpers/ham.js';

const started: ChildProcess[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const pid of pids.splice(0))
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function exitOf(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}

/** A Node process that counts the SIGUSR2 it gets, one line each. */
async function partner(): Promise<{ child: ChildProcess; alerts: () => number }> {
  const c = spawn(
    process.execPath,
    ['-e', `process.on('SIGUSR2', () => process.stdout.write('alert\\n')); process.stdout.write('up\\n'); setInterval(() => {}, 1e9)`],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  started.push(c);
  let out = '';
  c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('partner up', () => out.includes('up'), 20_000);
  return { child: c, alerts: () => out.split('\n').filter((l) => l === 'alert').length };
}

/**
 * A daemon-like Node child under a nanny: it tells the nanny `partnerLine`, says "told", then runs `then`.
 * Returns the nanny and its child's pid.
 */
async function nannied(partnerLine: string, then: string): Promise<{ nanny: ChildProcess; child: number }> {
  const code = `const s = new (require('net').Socket)({ fd: Number(process.env.HAM_NANNY), readable: true, writable: true }); s.write(${JSON.stringify(partnerLine + '\n')}, () => { process.stdout.write('told\\n', () => { ${then} }); });`;
  const nanny = spawn(NANNY_BINARY, [process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(nanny);
  let out = '';
  nanny.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  await waitFor('the child told its nanny', () => out.includes('told'), 20_000);
  const [child] = childrenOf(new Set([nanny.pid!]));
  pids.push(child!);
  return { nanny, child: child! };
}

describe('the nanny', () => {
  it('has no name to reach (an inherited fd), and a daemon that cannot open it runs as without a nanny', async () => {
    const code = `const n = require(${JSON.stringify(process.cwd() + '/dist/guardian/nanny.js')}); n.initNanny(); const o = n.ourNanny(); let gone = false; o.onGone(() => (gone = true)); process.stdout.write(JSON.stringify({ told: o.tell({ pid: process.pid, start: 1 }, 100), gone, env: process.env.HAM_NANNY ?? null }) + '\\n');`;
    for (const bad of ['999', 'ham-nanny-1-2', '1']) {
      const c = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, HAM_NANNY: bad } });
      started.push(c);
      let out = '';
      c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      expect(await exitOf(c)).toEqual({ code: 0, signal: null });
      expect(JSON.parse(out)).toEqual({ told: false, gone: true, env: null });
    }
    const c = spawn(NANNY_BINARY, ['sh', '-c', 'echo "$HAM_NANNY"; ls -l /proc/self/fd/$HAM_NANNY'], { stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    expect(await exitOf(c)).toEqual({ code: 0, signal: null });
    expect(out).toMatch(/^\d+\n.*-> socket:\[\d+\]\n$/);
  });

  it('was built at install (CI installs a compiler)', () => {
    expect(existsSync(NANNY_BINARY), `${NANNY_BINARY}: run \`npm run build\` with a C compiler`).toBe(true);
  });

  it("exits with its child's exit code or signal, passes SIGTERM on, and ignores an alert sent to it", async () => {
    const code = spawn(NANNY_BINARY, ['sh', '-c', 'exit 7'], { stdio: 'ignore' });
    started.push(code);
    expect(await exitOf(code)).toEqual({ code: 7, signal: null });
    const killed = spawn(NANNY_BINARY, ['sh', '-c', 'kill -KILL $$'], { stdio: 'ignore' });
    started.push(killed);
    expect(await exitOf(killed)).toEqual({ code: null, signal: 'SIGKILL' });
    const term = spawn(NANNY_BINARY, ['sleep', '1000'], { stdio: 'ignore' });
    started.push(term);
    await waitFor('sleep under the nanny', () => childrenOf(new Set([term.pid!])).length === 1, 20_000);
    const ended = exitOf(term);
    // An alert sent to the nanny (SIGUSR2, delivered before SIGTERM: the lower number) must not kill it.
    term.kill('SIGUSR2');
    term.kill('SIGTERM');
    expect(await ended).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('alerts the partner when its child is stopped and when it is continued', async () => {
    const p = await partner();
    const id = procId(p.child.pid!)!;
    const { child } = await nannied(`partner ${id.pid} ${id.start} 300`, 'setInterval(() => {}, 1e9)');
    process.kill(child, 'SIGSTOP');
    await waitFor('an alert for the stop', () => p.alerts() >= 1, 20_000);
    const before = p.alerts();
    process.kill(child, 'SIGCONT');
    await waitFor('an alert for the continue', () => p.alerts() > before, 20_000);
  });

  it('alerts the partner, again and again, while its child spins (a CPU-time timer, then samples)', async () => {
    const p = await partner();
    const id = procId(p.child.pid!)!;
    await nannied(`partner ${id.pid} ${id.start} 60`, 'for (;;) {}');
    await waitFor('three alerts', () => p.alerts() >= 3, 30_000);
  });

  it('does not alert a process whose start time is not the one it was told (a reused pid)', async () => {
    const p = await partner();
    const wrong = await partner();
    const id = procId(p.child.pid!)!;
    const w = procId(wrong.child.pid!)!;
    // The wrong start time: the nanny must alert nobody. A second nanny, told right, shows the stop is seen.
    const a = await nannied(`partner ${w.pid} ${w.start + 1} 300`, 'setInterval(() => {}, 1e9)');
    const b = await nannied(`partner ${id.pid} ${id.start} 300`, 'setInterval(() => {}, 1e9)');
    process.kill(a.child, 'SIGSTOP');
    process.kill(b.child, 'SIGSTOP');
    await waitFor('the rightly told nanny alerts', () => p.alerts() >= 1, 20_000);
    process.kill(a.child, 'SIGCONT');
    process.kill(b.child, 'SIGCONT');
    await waitFor('the continue alert too', () => p.alerts() >= 2, 20_000);
    expect(wrong.alerts()).toBe(0);
    expect(wrong.child.exitCode).toBeNull();
  });
});
