// log-check against a real log file appended, truncated and rotated between
// runs, with its state in a private HAM_STATE_DIR.
import { appendFileSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, Scope } from './helpers.js';

let scope: Scope;
let log: string;
let state: string;
beforeEach(() => {
  scope = new Scope();
  const dir = scope.tmp('ham-det-log-');
  state = join(dir, 'state');
  mkdirSync(state, { mode: 0o700 });
  log = join(dir, 'app.log');
});
afterEach(() => scope.cleanup());

const check = (...args: string[]) => run('log-check', [log, ...args], { HAM_STATE_DIR: state });

describe('log-check --grow', () => {
  it('first run healthy; then fails (1) while the file does not grow', async () => {
    writeFileSync(log, 'started\n');
    const first = await check('--grow');
    expect(first.code).toBe(0);
    expect(first.lines).toEqual([`${log}: first run, 8 bytes; watching from here`]);

    const still = await check('--grow');
    expect(still.code).toBe(1);
    expect(still.lines).toEqual([`${log} has not grown since the last run (8 bytes)`]);

    appendFileSync(log, 'tick\n');
    const grew = await check('--grow');
    expect(grew.code).toBe(0);
    expect(grew.line).toBe(`${log}: grew by 5 bytes`);
    expect((await check('--grow')).code).toBe(1);
  });

  it('truncation (copytruncate) and rotation (new inode) count as growth when the new file has data', async () => {
    writeFileSync(log, 'a long first line of the log\n');
    expect((await check('--grow')).code).toBe(0);
    // Truncated, then a shorter line written.
    truncateSync(log, 0);
    appendFileSync(log, 'short\n');
    const t = await check('--grow');
    expect(t.code).toBe(0);
    expect(t.line).toBe(`${log} (truncated): 6 bytes`);
    // Rotated: renamed away, a new empty file in its place → not grown.
    renameSync(log, `${log}.1`);
    writeFileSync(log, '');
    const empty = await check('--grow');
    expect(empty.code).toBe(1);
    expect(empty.line).toBe(`${log} (rotated) has not grown since the last run (0 bytes)`);
    appendFileSync(log, 'fresh\n');
    expect((await check('--grow')).code).toBe(0);
  });

  it('a missing file fails (1), and is read from its start when it appears', async () => {
    const missing = await check('--grow');
    expect(missing.code).toBe(1);
    expect(missing.line).toBe(`${log}: No such file or directory`);
    writeFileSync(log, 'hello\n');
    const back = await check('--grow', '--match', 'hello');
    expect(back.code).toBe(1); // the line written since is new
    expect(back.line).toBe(`${log} (appeared): 1 of 1 new line matches /hello/, first: hello`);
  });
});

describe('log-check --match', () => {
  it('only lines written since the previous run count; the first match is printed', async () => {
    writeFileSync(log, 'ERROR before we started\n');
    const first = await check('--match', 'ERROR|FATAL');
    expect(first.code).toBe(0);

    appendFileSync(log, 'GET / 200\nGET /x 200\n');
    const ok = await check('--match', 'ERROR|FATAL');
    expect(ok.code).toBe(0);
    expect(ok.line).toBe(`${log}: 2 new lines, none match /ERROR|FATAL/`);

    appendFileSync(log, 'GET / 200\nERROR db "main" down\tretrying\nFATAL giving up\n');
    const bad = await check('--match', 'ERROR|FATAL');
    expect(bad.code).toBe(1);
    expect(bad.lines).toEqual([`${log}: 2 of 3 new lines match /ERROR|FATAL/, first: ERROR db "main" down?retrying`]);

    // Reported once: nothing new since.
    const again = await check('--match', 'ERROR|FATAL');
    expect(again.code).toBe(0);
    expect(again.line).toBe(`${log}: 0 new lines, none match /ERROR|FATAL/`);
  });

  it('a line still being written waits until it is complete', async () => {
    writeFileSync(log, '');
    expect((await check('--match', 'ERROR')).code).toBe(0);
    appendFileSync(log, 'ERR');
    expect((await check('--match', 'ERROR')).code).toBe(0);
    appendFileSync(log, 'OR split across writes\n');
    const r = await check('--match', 'ERROR');
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/first: ERROR split across writes$/);
  });

  it('a rotated file is read from its start', async () => {
    writeFileSync(log, 'old\n');
    expect((await check('--match', 'panic')).code).toBe(0);
    renameSync(log, `${log}.1`);
    writeFileSync(log, 'boot\nkernel panic\n');
    const r = await check('--match', 'panic');
    expect(r.code).toBe(1);
    expect(r.line).toBe(`${log} (rotated): 1 of 2 new lines matches /panic/, first: kernel panic`);
  });

  it('a burst over 8 MiB: only its last 8 MiB are scanned, and it says so', async () => {
    writeFileSync(log, '');
    expect((await check('--match', 'ERROR')).code).toBe(0);
    const filler = `${'x'.repeat(99)}\n`.repeat(90_000); // 9,000,000 bytes
    appendFileSync(log, `ERROR lost in the skipped part\n${filler}ERROR at the end\n`);
    const r = await check('--match', 'ERROR');
    expect(r.code).toBe(1);
    expect(r.line).toMatch(/: 1 of \d+ new lines matches \/ERROR\/ \(\d+ bytes skipped\), first: ERROR at the end$/);
  });

  it('--grow and --match together', async () => {
    writeFileSync(log, 'x\n');
    await check('--grow', '--match', 'ERROR');
    appendFileSync(log, 'fine\n');
    const r = await check('--grow', '--match', 'ERROR');
    expect(r.code).toBe(0);
    expect(r.line).toBe(`${log}: grew by 5 bytes, 1 new line, none match /ERROR/`);
    expect((await check('--grow', '--match', 'ERROR')).code).toBe(1);
  });

  it('a state from another file is not reused', async () => {
    writeFileSync(log, 'a\n');
    await check('--grow');
    const other = `${log}.other`;
    writeFileSync(other, 'b\n');
    const r = await run('log-check', [other, '--grow'], { HAM_STATE_DIR: state });
    expect(r.code).toBe(0);
    expect(r.line).toMatch(/first run/);
  });
});

describe('log-check configuration', () => {
  it('HAM_STATE_DIR unset or missing: exit 6', async () => {
    writeFileSync(log, 'x\n');
    const unset = await run('log-check', [log, '--grow'], { HAM_STATE_DIR: undefined });
    expect(unset.code).toBe(6);
    expect(unset.line).toMatch(/HAM_STATE_DIR is not set/);
    const missing = await run('log-check', [log, '--grow'], { HAM_STATE_DIR: join(state, 'nope') });
    expect(missing.code).toBe(6);
  });

  it('bad arguments: exit 2', async () => {
    for (const args of [[], [log], [log, '--match'], [log, '--match', '(x'], [log, log, '--grow'], [log, '--grow=yes']]) {
      const r = await run('log-check', args, { HAM_STATE_DIR: state });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.lines).toHaveLength(1);
    }
  });
});
