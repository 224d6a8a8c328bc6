// An action list interrupted by a takeover: finished actions are not run
// again, the one in flight is run again (its result cannot be known; a left-
// over execute child is killed first), the rest follow. Nothing is skipped.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTime } from '../../src/proc/procfs.js';
import { entity, pairOf } from '../helpers/entities.js';
import { hamJson, lines, procsWith, request, sleeper, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
  await hamJson(t.home, ['attach', 'app', '--cwd', t.home, '--', ...sleeper(`${t.home}/app`)]);
});
afterEach((ctx) => t.cleanup(ctx));

const log = (file: string, text: string) => ({ kind: 'execute', argv: ['sh', '-c', `echo ${text} >> ${file}`], keepOnFail: true });

async function killHamAndWait(): Promise<void> {
  const s = await status(t.home);
  process.kill(s.ham.pid!, 'SIGKILL');
  await waitStatus(t.home, 'the new HAM', (x) => x.ham.epoch > s.ham.epoch && !!pairOf(x));
}

describe('an action list interrupted by a takeover', () => {
  it('resumes at the unfinished action: a waitfor in flight is waited for again, done actions are not repeated', async () => {
    const file = join(t.home, 'steps.txt');
    await request(t.home, 'condition-add', {
      entity: 'app',
      name: 'r',
      condition: { type: 'raise', match: { type: 'x' }, actions: [log(file, 'one'), { kind: 'waitfor', path: 'go', timeoutMs: 60_000 }, log(file, 'two')] },
    });
    await hamJson(t.home, ['raise', 'app', '--type', 'x']);
    await waitFor('the first step', () => lines(file).length === 1);
    await killHamAndWait();
    await hamJson(t.home, ['raise', 'app', '--type', 'unrelated']); // the new HAM serves while the run waits
    await import('node:fs').then((fs) => fs.writeFileSync(join(t.home, 'go'), ''));
    await waitFor('the last step', () => lines(file).length === 2);
    expect(lines(file)).toEqual(['one', 'two']);
    const c = entity(await status(t.home), 'app').conditions.find((x) => x.name === 'r')!;
    expect(c.actions.map((a) => [a.kind, a.runs, a.lastResult])).toEqual([
      ['execute', 1, 'ok'],
      ['waitfor', 1, 'ok'],
      ['execute', 1, 'ok'],
    ]);
  });

  it('an execute in flight is run again after its left-over process group is killed (at-least-once)', async () => {
    const file = join(t.home, 'exec.txt');
    const marker = `${t.home}/long-action`;
    await request(t.home, 'condition-add', {
      entity: 'app',
      name: 'r',
      condition: {
        type: 'raise',
        actions: [
          log(file, 'before'),
          {
            kind: 'execute',
            argv: ['sh', '-c', `echo started >> ${file}; if [ ! -e ${t.home}/again ]; then touch ${t.home}/again; exec perl -e 'sleep 1000' ${marker}; fi`],
            timeoutMs: 60_000,
          },
          log(file, 'after'),
        ],
      },
    });
    await hamJson(t.home, ['raise', 'app', '--type', 'x']);
    await waitFor('the long action running', () => procsWith(marker).length === 1);
    const leftover = procsWith(marker)[0]!;
    await killHamAndWait();
    await waitFor('the list to finish', () => lines(file).includes('after'));
    expect(lines(file)).toEqual(['before', 'started', 'started', 'after']);
    expect(startTime(leftover)).toBeUndefined(); // the first copy was killed, not left running
  });

  it('a death whose restart list was interrupted restarts the entity exactly once', async () => {
    await hamJson(t.home, ['attach', 'svc', '--', ...sleeper(`${t.home}/svc`)]);
    const file = join(t.home, 'svc.txt');
    await request(t.home, 'condition-add', {
      entity: 'svc',
      name: 'died',
      condition: {
        type: 'death',
        rearm: true,
        actions: [log(file, 'noted'), { kind: 'waitfor', delayMs: 1500 }, { kind: 'restart', keepOnFail: true }, log(file, 'restarted')],
      },
    });
    process.kill(entity(await status(t.home), 'svc').pid!, 'SIGKILL');
    await waitFor('noted', () => lines(file).length === 1);
    await killHamAndWait();
    const s = await waitStatus(t.home, 'svc restarted', (x) => entity(x, 'svc').state === 'running' && entity(x, 'svc').restarts === 1);
    await waitFor('the list to finish', () => lines(file).length === 2);
    expect(lines(file)).toEqual(['noted', 'restarted']);
    expect(procsWith(`${t.home}/svc`)).toEqual([entity(s, 'svc').pid]);
  });
});

describe('a death while no HAM runs', () => {
  it('its fired list runs exactly once when the pair comes back', async () => {
    const file = join(t.home, 'paged.txt');
    await hamJson(t.home, ['attach', 'lone', '--', ...sleeper(`${t.home}/lone`)]);
    await request(t.home, 'condition-add', { entity: 'lone', name: 'died', condition: { type: 'death', actions: [log(file, 'paged')] } });
    const pid = entity(await status(t.home), 'lone').pid!;
    await hamJson(t.home, ['stop']);
    process.kill(pid, 'SIGKILL'); // its keeper records the death; no HAM to hear it
    await waitFor('lone gone', () => procsWith(`${t.home}/lone`).length === 0);
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await waitStatus(t.home, 'the death applied', (s) => entity(s, 'lone').deaths === 1);
    await waitFor('the page', () => lines(file).length >= 1);
    await waitFor('the run finished', async () => entity(await status(t.home), 'lone').conditions[0]!.actions[0]!.runs === 1);
    expect(lines(file)).toEqual(['paged']);
  });
});
