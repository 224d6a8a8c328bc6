// Uptime, CPU and RSS in `ham status`, and `ham top`, on a real pair: its
// one-screen form, and the live view in a real pseudo-terminal (util-linux
// `script`) while an entity and then the HAM are SIGKILLed.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CLI_MAIN } from '../../src/paths.js';
import { findProcesses } from '../../src/proc/procfs.js';
import { CALM, ham, hamJson, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';
import { entity } from '../helpers/entities.js';

let t: TestHome;
let child: ChildProcess | undefined;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => {
  if (child?.pid && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  t.cleanup(ctx);
});

interface Used {
  name: string;
  pid: number | null;
  uptimeMs: number | null;
  cpuMs: number | null;
  rssBytes: number | null;
  cpuPercent?: number | null;
}

// Busy a fifth of the time (not a whole core: the machine is shared), so its CPU time grows by ticks.
const spinner = (marker: string): string[] => ['perl', '-e', 'for (;;) { for (1 .. 2e6) {} select(undef, undef, undef, 0.1) }', marker];

async function pairWith(): Promise<void> {
  await hamJson(t.home, ['start', ...CALM]);
  await hamJson(t.home, ['attach', 'busy', '--', ...spinner(`${t.home}-busy`)]);
  await hamJson(t.home, ['attach', 'calm', '--', ...sleeper(`${t.home}-calm`)]);
  await hamJson(t.home, ['attach', 'spot']); // a placeholder: nothing runs
}

describe('ham top --once', () => {
  it('prints one screen: the pair, every entity with its usage, the latest events', async () => {
    await pairWith();
    const s = await status(t.home);
    for (const args of [['top', '--once'], ['top']]) {
      // execFile's stdout is a pipe, not a terminal: `ham top` prints one screen there too.
      const r = await ham(t.home, args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`HAM pid ${s.ham.pid} (epoch ${s.ham.epoch})`);
      expect(r.stdout).toMatch(/3 entities: 2 running, 1 stopped/);
      expect(r.stdout).toMatch(/\nNAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+CPU%\s+RSS\s+READY\n/);
      expect(r.stdout).toMatch(new RegExp(`\\nbusy\\s+running\\s+${entity(s, 'busy').pid}\\s+\\d+\\S*\\s+0\\s+[\\d.]+\\s+[\\d.]+[KM]\\s+-\\n`));
      expect(r.stdout).toMatch(/\nspot\s+stopped\s+-\s+-\s+0\s+-\s+-\s+-\n/);
      expect(r.stdout).toMatch(/latest events:\n(.*\n)*#\d+ \S+ calm attach/);
      expect(r.stdout).not.toContain('\x1b'); // no terminal sequences off a terminal
      expect(r.stdout).not.toContain('q quits'); // no keys to press either
    }
    const j = await hamJson<{ entities: Used[]; events: { condition: string }[] }>(t.home, ['top', '--once']);
    const busy = j.entities.find((e) => e.name === 'busy')!;
    expect(busy.cpuPercent).toBeGreaterThan(0); // it works a fifth of the time: some CPU in the half second measured
    expect(j.entities.find((e) => e.name === 'calm')!.cpuPercent).toBe(0);
    expect(j.entities.find((e) => e.name === 'spot')!.cpuPercent).toBeNull();
    expect(j.events.some((e) => e.condition === 'attach')).toBe(true);
  });

  it('says no HAM runs, as every command does', async () => {
    const r = await ham(t.home, ['top', '--once']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not-running: no HAM is running on/);
  });
});

/** The last whole screen written (each begins at ESC [ H and ends ESC [ J), as plain lines. */
function lastScreen(raw: string): string[] {
  const whole = raw.split('\x1b[H').filter((p) => p.endsWith('\x1b[J'));
  const last = whole.at(-1) ?? '';
  return last
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\r/g, '')
    .split('\n');
}

const rowOf = (screen: string[], name: string): string[] | undefined => screen.find((l) => l.startsWith(`${name} `))?.split(/\s+/);

describe('ham top in a terminal', () => {
  it('follows a restart, carries on across a takeover, fits a resized window, and q restores the terminal', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', '--restart', 'web', '--', ...sleeper(`${t.home}-web`)]);
    const s0 = await status(t.home);
    const resize = join(t.home, 'resize');
    const { c, exited, screen, raw } = topInPty(resize);
    const pid0 = entity(s0, 'web').pid!;
    await screen(
      'web running in the view',
      (l) => l.some((x) => x.includes(`HAM pid ${s0.ham.pid} (epoch ${s0.ham.epoch})`)) && rowOf(l, 'web')?.[2] === String(pid0) && l[1]!.endsWith('q quits'),
    );

    process.kill(pid0, 'SIGKILL');
    const after = await screen(
      'the restart in the view',
      (l) => rowOf(l, 'web')?.[4] === '1' && rowOf(l, 'web')?.[1] === 'running' && l.some((x) => / web restart /.test(x)),
    );
    expect(rowOf(after, 'web')![2]).not.toBe(String(pid0));
    expect(after.some((x) => new RegExp(` web death .*pid ${pid0}`).test(x))).toBe(true);

    process.kill(s0.ham.pid!, 'SIGKILL');
    const s1 = await waitStatus(t.home, 'the Guardian to take over', (s) => s.ham.epoch > s0.ham.epoch && s.ham.pid !== null && entity(s, 'web').pid !== null);
    await screen(
      'the takeover in the view',
      (l) => l.some((x) => x.includes(`HAM pid ${s1.ham.pid} (epoch ${s1.ham.epoch})`)) && l.some((x) => x.includes('takeover')),
    );
    // The view carries on: the next death and restart show up as well.
    const pid1 = entity(s1, 'web').pid!;
    process.kill(pid1, 'SIGKILL');
    await screen(
      'the second restart in the view',
      (l) => rowOf(l, 'web')?.[4] === '2' && rowOf(l, 'web')?.[2] !== String(pid1) && rowOf(l, 'web')?.[1] === 'running',
    );

    writeFileSync(resize, '');
    const small = await screen(
      'the view redrawn for 50×16',
      (l) => l[0]!.startsWith('ham top') && l.length <= 16 && l.every((x) => x.length <= 50) && l.some((x) => x.includes('…')),
    );
    expect(small.some((x) => x.startsWith('NAME'))).toBe(true);

    c.stdin!.write('r'); // sort by restarts
    await screen('the sort key taken', (l) => l[1]!.includes('sort: restarts'));
    c.stdin!.write('q');
    expect(await exited).toBe(0);
    restored(raw());
  });

  it('SIGTERM restores the terminal too', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    await hamJson(t.home, ['attach', 'web', '--', ...sleeper(`${t.home}-web`)]);
    const { exited, screen, raw } = topInPty();
    await screen('web in the view', (l) => rowOf(l, 'web')?.[1] === 'running');
    const [top] = findProcesses((argv) => argv.includes(CLI_MAIN) && argv.includes(t.home) && argv.at(-1) === 'top');
    process.kill(top!, 'SIGTERM');
    expect(await exited).toBe(128 + 15);
    restored(raw());
  });
});

/**
 * `ham top` in a real pseudo-terminal (util-linux script) of 120×40; it turns
 * 50×16 once `resize` exists (stty on the terminal: the kernel sends
 * SIGWINCH). After it ends, the terminal's modes are printed (`after: ...`).
 */
function topInPty(resize?: string) {
  const cmd = [
    'stty cols 120 rows 40;',
    resize ? `(while [ ! -e ${resize} ]; do sleep 0.1; done; stty cols 50 rows 16 </dev/tty) &` : '',
    `${process.execPath} ${CLI_MAIN} --home ${t.home} top; rc=$?;`,
    `echo "after: $(stty -a | tr '\n' ' ')"; exit $rc`,
  ].join(' ');
  const c = spawn('script', ['-q', '-e', '-c', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  child = c;
  let text = '';
  c.stdout!.on('data', (d: Buffer) => (text += d.toString('utf8')));
  const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
  const screen = (what: string, ok: (lines: string[]) => boolean): Promise<string[]> =>
    waitFor(
      what,
      () => {
        const l = lastScreen(text);
        return ok(l) ? l : undefined;
      },
      30_000,
    );
  return { c, exited, screen, raw: () => text };
}

/** The alternate screen was entered, then left with the cursor shown, and the tty is cooked again (not raw). */
function restored(raw: string): void {
  expect(raw).toContain('\x1b[?1049h');
  const [view, after] = raw.split('after: ');
  expect(view!.replace(/[\r\n]+$/, '').endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
  for (const mode of ['icanon', 'echo', 'isig']) expect(after).toMatch(new RegExp(`(^|\\s)${mode}(\\s|$)`));
}
