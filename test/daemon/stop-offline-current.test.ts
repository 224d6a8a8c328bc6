// Which process the offline stop signals (stop-offline-current.ts), on real processes: a group only while
// the live main process is in it (review L2), a pid from the keeper's newest record only if it is the
// keeper's child (review H4).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { currentProcess, signalCurrent } from '../../src/daemon/stop-offline-current.js';
import { blankEntity } from '../../src/ham/entity-records.js';
import type { EntityRecord } from '../../src/model/records.js';
import { homePaths } from '../../src/model/home-paths.js';
import { isAlive, procId } from '../../src/proc/procfs.js';
import { tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
const started: ChildProcess[] = [];
beforeEach(() => {
  t = tempHome();
  mkdirSync(homePaths(t.home).inbox, { recursive: true });
});
afterEach((ctx) => {
  for (const c of started.splice(0))
    try {
      process.kill(c.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  t.cleanup(ctx);
});

/** A sleeper leading a process group of its own (as a keeper's child does). */
async function leader(): Promise<{ pid: number; start: number }> {
  const c = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  started.push(c);
  return waitFor('started', () => procId(c.pid!));
}

function record(pid: number, start: number, more: Partial<EntityRecord> = {}): EntityRecord {
  const e = blankEntity({ name: 'web', kind: 'spawned', argv: ['sleep', '1000'], env: {}, cwd: '/', conditions: [] }, 7);
  return { ...e, life: { tag: 'running' } as EntityRecord['life'], pid, pidStart: start, instance: 1, ...more };
}

describe('the offline stop: the process it signals', () => {
  it('signals the group the live main process leads', async () => {
    const a = await leader();
    const c = await currentProcess(homePaths(t.home), record(a.pid, a.start));
    expect(c).toEqual({ id: a, group: a.pid });
  });

  it('never signals a group the main process is not in (a reused pgid): only the process itself', async () => {
    const a = await leader();
    const other = await leader(); // another group, as one that took the entity's old pgid would be
    const c = await currentProcess(homePaths(t.home), record(a.pid, a.start, { mainGroup: { instance: 1, pgid: other.pid } }));
    expect(c).toEqual({ id: a, group: null });
    signalCurrent(c!, 'SIGKILL');
    await waitFor('the main process gone', () => !isAlive(a));
    expect(isAlive(other)).toBe(true);
  });

  it('takes the pid of the keeper’s newest unapplied P/S record when it is the keeper’s child, else none', async () => {
    const paths = homePaths(t.home);
    const stale = await leader();
    process.kill(stale.pid, 'SIGKILL');
    await waitFor('stale gone', () => !isAlive(stale));
    const child = await leader(); // our child: this test process plays its keeper
    const keeper = { ...procId(process.pid)!, serial: 2, lastSeq: 3 };
    const e = record(stale.pid, stale.start, { keeper });
    writeFileSync(join(paths.inbox, '7-2-3'), `P 1\n`); // already applied: ignored
    writeFileSync(join(paths.inbox, '7-2-4'), `X ${stale.pid} 9 o\n`);
    writeFileSync(join(paths.inbox, '7-2-5'), `P ${child.pid}\n`);
    writeFileSync(join(paths.inbox, '7-2-6'), `S ${child.pid}\n`);
    expect(await currentProcess(paths, e)).toEqual({ id: child, group: child.pid });
    writeFileSync(join(paths.inbox, '7-2-7'), `X ${child.pid} 9\n`); // died since: none runs
    expect(await currentProcess(paths, e)).toBeNull();
    writeFileSync(join(paths.inbox, '7-2-8'), `P 1\n`); // pid 1 is not the keeper's child
    expect(await currentProcess(paths, e)).toBeNull();
  });
});
