// The C keeper's fencing deadline (keeper-fence.c, README "Cluster"), driven by hand with no
// HAM: past it the keeper stops its entity on its own (the stop signal, then SIGKILL of its
// group after the stop timeout) and starts it no more until a new deadline.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KEEPER_BINARY } from '../../src/paths.js';
import { waitFor } from '../helpers/ham.js';
import { command, handKeeper, records } from '../helpers/keeper-hand.js';

const h = handKeeper('ham-kfence-');

function keeper(argv: string[], env: Record<string, string> = {}): string {
  const kdir = join(h.dir, 'k');
  mkdirSync(kdir, { recursive: true });
  const k = spawn(KEEPER_BINARY, [kdir, h.inbox, 't', 'start', '--', ...argv], {
    stdio: 'ignore',
    detached: true,
    env: { ...process.env, HAM_LOG_DIR: h.logDir, ...env },
  });
  h.started.push(k);
  return kdir;
}

const death = (): string | undefined => records(h.inbox).find((r) => r.startsWith('X '));

describe('the C keeper fences', () => {
  it('at the deadline from HAM_FENCE_MS: the stop signal; the entity does not inherit the settings', async () => {
    const seen = join(h.dir, 'seen');
    keeper(
      [
        'perl',
        '-e',
        `open my $f, '>', '${seen}'; print $f (join ',', map { defined $ENV{$_} ? 1 : 0 } qw(HAM_FENCE_MS HAM_FENCE_STOP)); close $f; sleep 100000`,
        h.dir,
      ],
      {
        HAM_FENCE_MS: '300',
        HAM_FENCE_STOP: '15 5000',
      },
    );
    const x = await waitFor('the death record', death);
    expect(x).toMatch(/^X \d+ 15$/); // the raw wait status: killed by SIGTERM
    expect(readFileSync(seen, 'utf8')).toBe('0,0');
  });

  it('by a `d` order: an entity that ignores the stop signal is SIGKILLed with its group after the timeout', async () => {
    const kdir = keeper(['perl', '-e', '$SIG{TERM} = "IGNORE"; sleep 100000', h.dir]);
    await waitFor('the entity started', () => records(h.inbox).some((r) => r.startsWith('S ')));
    command(kdir, 'd 1 100 15 200');
    const x = await waitFor('the death record', death);
    expect(x).toMatch(/^X \d+ 9$/);
  });

  it('past the deadline, a restart is refused (F EPERM) until a new deadline', async () => {
    const kdir = keeper(['perl', '-e', 'sleep 100000', h.dir], { HAM_FENCE_MS: '100', HAM_FENCE_STOP: '15 1000' });
    await waitFor('the death record', death);
    const seq = records(h.inbox).length;
    command(kdir, `r ${seq}`);
    await waitFor('the refusal', () => records(h.inbox)[seq] === 'F 1');
    command(kdir, 'd 2 60000 15 1000');
    command(kdir, `r ${seq + 1}`);
    await waitFor('started again', () =>
      records(h.inbox)
        .slice(seq + 1)
        .some((r) => r.startsWith('S ')),
    );
  });

  it('a placed command (HAM_FENCE_TOKEN) with no deadline is refused (F EPERM): no grant, no start', async () => {
    keeper(['perl', '-e', 'sleep 100000', h.dir], { HAM_FENCE_TOKEN: '7', HAM_FENCE_STOP: '15 1000' });
    await waitFor('the refusal', () => records(h.inbox).includes('F 1'));
    expect(records(h.inbox).some((r) => r.startsWith('S '))).toBe(false);
  });
});
