// cpu-check on real processes: a busy loop against a low limit, an idle
// sleep, a restart (new pid) re-baselining; state in a private HAM_STATE_DIR.
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { procState, type Result, run, Scope, sleep, waitFor } from './helpers.js';

let scope: Scope;
let state: string;
beforeEach(() => {
  scope = new Scope();
  state = join(scope.tmp('ham-det-cpu-'), 'state');
  mkdirSync(state, { mode: 0o700 });
});
afterEach(() => scope.cleanup());

const check = (pid: number, max: string, extra: Record<string, string> = {}) =>
  run('cpu-check', ['--max-percent', max], { HAM_PID: String(pid), HAM_STATE_DIR: state, ...extra });

/** utime+stime ticks of a process. */
function ticks(pid: number): number {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}

describe('cpu-check', () => {
  it('a busy loop goes over 20% (exit 1), after a healthy baseline run', async () => {
    const busy = scope.spawn('perl', ['-e', '1 while 1']);
    const first = await check(busy.pid, '20');
    expect(first.code).toBe(0);
    expect(first.line).toMatch(new RegExp(`^pid ${busy.pid}: baseline of \\d+ CPU ticks recorded$`));
    // On a loaded machine one window may fall short; the loop is busy, so
    // some window soon shows it.
    let last: Result | undefined;
    await waitFor(
      'a run over the limit',
      async () => {
        await sleep(300);
        last = await check(busy.pid, '20');
        return last.code === 1;
      },
      20_000,
      0,
    );
    expect(last!.lines).toHaveLength(1);
    const m = new RegExp(`^pid ${busy.pid} used (\\d+\\.\\d)% CPU over (\\d+\\.\\d) s, over 20%$`).exec(last!.line);
    expect(m, last!.line).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(20);
  });

  it('an idle process stays at 0% (exit 0)', async () => {
    const idle = scope.spawn('sleep', ['60']);
    await waitFor('sleep to sleep', () => procState(idle.pid) === 'S');
    const before = ticks(idle.pid);
    expect((await check(idle.pid, '1')).line).toMatch(/baseline/);
    await sleep(200); // a measuring window, not an assertion
    const r = await check(idle.pid, '1');
    expect(ticks(idle.pid)).toBe(before); // it really was idle
    expect(r.code).toBe(0);
    expect(r.lines).toEqual([expect.stringMatching(new RegExp(`^pid ${idle.pid} used 0\\.0% CPU over \\d+\\.\\d s \\(max 1%\\)$`))]);
  });

  it('a new pid (a restart) records a new baseline', async () => {
    const a = scope.spawn('sleep', ['60']);
    const b = scope.spawn('sleep', ['60']);
    expect((await check(a.pid, '50')).line).toMatch(/baseline/);
    const r = await check(b.pid, '50');
    expect(r.code).toBe(0);
    expect(r.line).toMatch(new RegExp(`^pid ${b.pid}: baseline of \\d+ CPU ticks recorded$`));
    expect(r.line).not.toMatch(/used/);
  });

  it('not running → 7; HAM_STATE_DIR unset → 6', async () => {
    const none = await run('cpu-check', ['--max-percent', '50'], { HAM_STATE_DIR: state });
    expect(none.code).toBe(7);
    expect(none.line).toBe('entity web has no pid (not running)');
    const child = scope.spawn('sleep', ['60']);
    await scope.kill(child);
    const gone = await check(child.pid, '50');
    expect(gone.code).toBe(7);
    expect(gone.line).toBe(`pid ${child.pid} is not running`);
    const unset = await run('cpu-check', ['--max-percent', '50', '--pid', String(process.pid)], { HAM_STATE_DIR: undefined });
    expect(unset.code).toBe(6);
    expect(unset.line).toMatch(/HAM_STATE_DIR is not set/);
  });

  it('bad arguments: exit 2', async () => {
    for (const args of [[], ['--max-percent'], ['--max-percent', 'lots'], ['--max-percent', '1.5'], ['--max-percent', '50', '--pid', '0'], ['--max-percent', '50', 'x']]) {
      const r = await run('cpu-check', args, { HAM_STATE_DIR: state, HAM_PID: String(process.pid) });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.lines).toHaveLength(1);
    }
  });
});
