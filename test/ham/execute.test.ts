// The execute action against real processes: a timed-out command's group
// gets SIGTERM first, then SIGKILL after the grace; a failure is data
// (argv, exit code, signal, duration, timed out, the bounded stderr tail),
// shown by `ham status NAME` and in `--json`.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ActionView } from '../../src/protocol/views.js';
import { entity } from '../helpers/entities.js';
import { CALM, ham, hamJson, procsWith, request, sleeper, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
  await hamJson(t.home, ['attach', 'x', '--', ...sleeper(`${t.home}/x`)]);
});
afterAll((suite) => t.cleanup({ task: suite }));

async function action(condition: string): Promise<ActionView> {
  return entity(await status(t.home), 'x').conditions.find((c) => c.name === condition)!.actions[0]!;
}
/** Add a raise condition running `argv`, raise it, and wait for the action's first failure. */
async function failed(condition: string, act: Record<string, unknown>): Promise<ActionView> {
  await request(t.home, 'condition-add', {
    entity: 'x',
    name: condition,
    condition: { type: 'raise', match: { type: condition }, actions: [{ kind: 'execute', keepOnFail: true, ...act }] },
  });
  await hamJson(t.home, ['raise', 'x', '--type', condition]);
  return waitFor(`${condition} to fail`, async () => {
    const a = await action(condition);
    return a.lastResult === 'failed' ? a : undefined;
  });
}

describe('execute: TERM, a grace, then KILL of the group', () => {
  it('a command that traps TERM gets it first (it writes its marker and exits on its own)', async () => {
    const marker = `${t.home}/trapped.term`;
    const script = `trap 'echo cleaned >> ${marker}; exit 7' TERM; echo starting >&2; while :; do sleep 0.05; done`;
    const a = await failed('traps', { argv: ['sh', '-c', script], timeoutMs: 1000, graceMs: 60_000 });
    expect(existsSync(marker)).toBe(true);
    // It exited by itself on TERM (code 7), long before a KILL at the end of a minute's grace.
    expect(a.lastFailure).toMatchObject({ argv: ['sh', '-c', script], exitCode: 7, signal: null, timedOut: true });
    expect(a.lastFailure!.stderrTail).toMatch(/^starting\n/);
    expect(a.lastFailure!.durationMs).toEqual(expect.any(Number));
    expect(a.lastError).toBe('timed out after 1000 ms; its process group was sent SIGTERM, then SIGKILL after 60000 ms');
  });

  it('a command that ignores TERM is KILLed with its group after the grace', async () => {
    const marker = `${t.home}/ignores`;
    const perl = `$SIG{TERM} = sub { open(my $f, '>', '${marker}.term'); close $f }; sleep 1 while 1`;
    const a = await failed('ignores', { argv: ['perl', '-e', perl, marker], timeoutMs: 1000, graceMs: 300 });
    expect(existsSync(`${marker}.term`)).toBe(true); // TERM came, and it did not die of it
    expect(a.lastFailure).toMatchObject({ argv: ['perl', '-e', perl, marker], exitCode: null, signal: 'SIGKILL', timedOut: true });
    await waitFor('the command gone', () => procsWith(marker).length === 0);
  });
});

describe('execute: graceMs from the CLI', () => {
  it('ham action add --grace-ms sets it, shown in the action params', async () => {
    await request(t.home, 'condition-add', { entity: 'x', name: 'cli', condition: { type: 'raise', match: { type: 'cli' } } });
    const r = await ham(t.home, ['action', 'add', 'x', 'cli', 'g', '--kind', 'execute', '--timeout-ms', '100', '--grace-ms', '500', '--', 'true']);
    expect(r.code).toBe(0);
    expect((await action('cli')).params).toMatchObject({ argv: ['true'], timeoutMs: 100, graceMs: 500 });
  });
});

describe('execute: a failure as data', () => {
  it('exit code and the last 2 KiB of stderr, in status --json and in ham status NAME', async () => {
    const script = `perl -e 'print STDERR "x" x 10000; print STDERR "\\nthe end\\n"'; exit 3`;
    const a = await failed('exits', { argv: ['sh', '-c', script] });
    expect(a.lastFailure).toMatchObject({ argv: ['sh', '-c', script], exitCode: 3, signal: null, timedOut: false });
    expect(Buffer.byteLength(a.lastFailure!.stderrTail!)).toBeLessThanOrEqual(2048);
    expect(a.lastFailure!.stderrTail!.endsWith('xxx\nthe end\n')).toBe(true);
    const text = await ham(t.home, ['status', 'x']);
    expect(text.stdout).toMatch(/failure: argv "sh" "-c" .*, exit code 3, after \d+ ms, stderr …x+\\nthe end/);
  });

  it('a command that cannot start says why, as data', async () => {
    // Refused at add time when not executable? No: action argv are not checked for existence; the run fails.
    const a = await failed('missing', { argv: ['/nonexistent/prog'] });
    expect(a.lastFailure).toMatchObject({ argv: ['/nonexistent/prog'], startError: 'ENOENT' });
    expect(a.lastError).toBe('cannot execute "/nonexistent/prog": ENOENT');
  });
});
