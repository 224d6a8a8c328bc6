// The check runner's clean-up, with real processes: what a check leaves behind
// in a session of its own (setsid, out of reach of its group kill) is killed
// when the check ends, by a timeout or a normal exit, and reaped (no zombie).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckRunner } from '../../src/detector/runner.js';
import { killAll, waitFor } from '../helpers/ham.js';

let dir: string;
let runner: CheckRunner;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ham-runner-'));
  runner = new CheckRunner();
});
afterEach(() => {
  runner.close();
  killAll(dir);
  rmSync(dir, { recursive: true, force: true });
});

const ENV = { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C' };
/** A process that left its session: it writes its pid, then sleeps; `marker` makes it findable. */
const escapee = (pidfile: string): string => `setsid sh -c 'echo $$ > ${pidfile}.tmp; mv ${pidfile}.tmp ${pidfile}; exec perl -e "sleep 1000" ${dir}' &`;
const pidIn = (f: string): number => Number(readFileSync(f, 'utf8').trim());
/** Gone from /proc altogether: killed and reaped (a zombie still has its entry). */
const reaped = (pid: number): boolean => !existsSync(`/proc/${pid}`);
/** State, parent and session from /proc/PID/stat. */
function stat(pid: number): { state: string; ppid: number; session: number } | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid, , session] = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return { state: state!, ppid: Number(ppid), session: Number(session) };
  } catch {
    return undefined;
  }
}

describe('check runner clean-up', () => {
  it('a check that exits leaves no setsid child behind', async () => {
    const pf = join(dir, 'p1');
    const go = join(dir, 'go1');
    const run = runner.run(['/bin/sh', '-c', `${escapee(pf)} while [ ! -e ${go} ]; do sleep 0.02; done; exit 0`], ENV, 20_000);
    await waitFor('the escapee', () => existsSync(pf));
    const pid = pidIn(pf);
    expect(stat(pid)).toMatchObject({ session: pid }); // out of the check's group and session
    writeFileSync(go, '');
    expect(await run).toMatchObject({ code: 0, timedOut: false });
    await waitFor('the escapee killed and reaped', () => reaped(pid));
  });

  it('a check that times out leaves no setsid child behind, nor the children of one that lives on', async () => {
    const pf = join(dir, 'p2');
    const inner = join(dir, 'p2-inner');
    // An intermediate in its own session that keeps running with a child of its own.
    const nest = `setsid sh -c 'perl -e "sleep 1000" ${dir} & echo $! > ${inner}.tmp; mv ${inner}.tmp ${inner}; wait' &`;
    const run = runner.run(['/bin/sh', '-c', `${escapee(pf)} ${nest} sleep 1000`], ENV, 3000);
    await waitFor('both pid files', () => existsSync(pf) && existsSync(inner));
    const pids = [pidIn(pf), pidIn(inner)];
    expect(pids.every((p) => stat(p) !== undefined && stat(p)!.state !== 'Z')).toBe(true);
    expect((await run).timedOut).toBe(true);
    await waitFor('every leftover killed and reaped', () => pids.every(reaped));
  });

  it('an orphan of a check still running is left alone until that check ends', async () => {
    const pf = join(dir, 'p3');
    const go = join(dir, 'go');
    const slow = runner.run(['/bin/sh', '-c', `(${escapee(pf)}); while [ ! -e ${go} ]; do sleep 0.02; done; exit 0`], ENV, 20_000);
    await waitFor('the orphan', () => existsSync(pf));
    const pid = pidIn(pf);
    // Its intermediate subshell is gone: the orphan is the runner's child now, in a session of its own.
    const runnerPid = await waitFor('reparented to the runner', () => {
      const st = stat(pid);
      return st && st.session === pid && stat(st.ppid) && readFileSync(`/proc/${st.ppid}/cmdline`, 'utf8').includes('runner.pl') ? st.ppid : undefined;
    });
    expect(runnerPid).toBeGreaterThan(0);
    // Other checks end meanwhile (each end sweeps orphans): this one's orphan stays.
    for (let i = 0; i < 3; i++) expect((await runner.run(['/bin/sh', '-c', 'exit 1'], ENV, 5000)).code).toBe(1);
    expect(reaped(pid)).toBe(false);
    expect(stat(pid)?.state).not.toBe('Z');
    writeFileSync(go, '');
    expect((await slow).code).toBe(0);
    await waitFor('the orphan killed and reaped once its check ended', () => reaped(pid));
  });
});
