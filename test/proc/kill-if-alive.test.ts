// killIfAlive (src/proc/procfs.ts): a takeover SIGKILLs the old HAM only if it is still that
// process, and a HAM that dies and is reaped between the check and the kill (ESRCH) is no error:
// a CI run lost a takeover to that uncaught exception. Real processes, killed and reaped.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isAlive, killIfAlive, procId } from '../../src/proc/procfs.js';

describe('killIfAlive', () => {
  it('kills a live process; a dead and reaped one, a reused pid and nothing are left alone without throwing', async () => {
    const child = spawn('sleep', ['100'], { stdio: 'ignore' });
    const id = procId(child.pid!)!;
    expect(isAlive(id)).toBe(true);
    const exited = once(child, 'exit');
    killIfAlive(id);
    const [code, signal] = await exited; // reaped by Node
    expect([code, signal]).toEqual([null, 'SIGKILL']);
    expect(() => killIfAlive(id)).not.toThrow();
    // The same pid with another start time is another process: not killed.
    const other = spawn('sleep', ['100'], { stdio: 'ignore' });
    try {
      killIfAlive({ pid: other.pid!, start: procId(other.pid!)!.start + 1 });
      expect(isAlive(procId(other.pid!))).toBe(true);
    } finally {
      other.kill('SIGKILL');
    }
    expect(() => killIfAlive(null)).not.toThrow();
    expect(() => killIfAlive(undefined)).not.toThrow();
  });
});
