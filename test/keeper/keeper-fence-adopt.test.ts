// The C keeper fences an orphan it adopted (its keeper killed) as it fences its own child: it
// reads `d` orders from ctl while it watches the orphan's pidfd and stops it at the deadline
// (the stop signal, then SIGKILL of its group), with no HAM. Before, watch() read no ctl and
// never checked the deadline, so an adopted placed entity outlived its node's lease.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEEPER_BINARY } from '../../src/paths.js';
import { waitFor } from '../helpers/ham.js';
import { command, handKeeper, records } from '../helpers/keeper-hand.js';

const h = handKeeper('ham-kfence-adopt-');

/** An orphan in its own session and group (as an entity is), and its exit signal once seen. */
function orphan(script: string): { child: ChildProcess; exit: () => NodeJS.Signals | null | undefined } {
  const child = spawn('perl', ['-e', script, h.dir], { stdio: 'ignore', detached: true });
  h.started.push(child);
  let sig: NodeJS.Signals | null | undefined;
  child.once('exit', (_code, s) => (sig = s));
  return { child, exit: () => sig };
}

function adopt(pid: number): string {
  const kdir = join(h.dir, 'k');
  mkdirSync(kdir, { recursive: true });
  const k = spawn(KEEPER_BINARY, [kdir, h.inbox, 't', 'adopt', String(pid), '--'], {
    stdio: 'ignore',
    detached: true,
    env: { ...process.env, HAM_LOG_DIR: h.logDir },
  });
  h.started.push(k);
  return kdir;
}

const has = (prefix: string) => () => records(h.inbox).find((r) => r.startsWith(prefix));

describe('the C keeper fences an adopted orphan', () => {
  it('by a `d` order: the stop signal, then SIGKILL after the timeout; then its death record', async () => {
    const o = orphan('$SIG{TERM} = "IGNORE"; sleep 100000');
    const kdir = adopt(o.child.pid!);
    await waitFor('the keeper started', has('K '));
    command(kdir, 'd 1 100 15 300');
    const sig = await waitFor('the orphan killed', o.exit, 30_000);
    expect(sig).toBe('SIGKILL');
    expect(await waitFor('the death record', has('X '))).toBe(`X ${o.child.pid} -1`);
  });

  it('an orphan that stops on the signal is not SIGKILLed', async () => {
    const o = orphan('sleep 100000');
    const kdir = adopt(o.child.pid!);
    await waitFor('the keeper started', has('K '));
    command(kdir, 'd 1 100 15 60000');
    expect(await waitFor('the orphan stopped', o.exit, 30_000)).toBe('SIGTERM');
    await waitFor('the death record', has('X '));
  });
});
