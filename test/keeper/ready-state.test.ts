// The keeper's readiness state file and poke name (keeper-ready.c writes them,
// ready-state.ts reads them): strict, like the records; and where each entity's
// socket or FIFO is, and which homes are too long for a notify socket (no abstract fallback).
import fc from 'fast-check';
import { existsSync, mkdtempSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Inbox } from '../../src/keeper/inbox.js';
import { MAX_STATE_BYTES, NOTIFY_HOME_MAX, notifyHomeProblem, parsePoke, parseReadyState, readReadyState, readyPath } from '../../src/keeper/ready-state.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('the keeper readiness state', () => {
  it('parses what the keeper writes', () => {
    expect(parseReadyState('3 1 0 1 42 1796162515780 2 77\nserving on 8080\n')).toEqual({
      instance: 3,
      ready: true,
      reloading: false,
      stopping: true,
      watchdog: 42,
      extendUntil: 1796162515780,
      ignored: 2,
      mainPid: 77,
      mainStart: 0,
      reloads: 0,
      reloaded: 0,
      status: 'serving on 8080',
    });
    expect(parseReadyState('1 0 0 0 0 0 0 0\n\n')).toMatchObject({ ready: false, status: '' });
    // A keeper with MAINPID's start time and the reload counters (an older one writes neither).
    expect(parseReadyState('2 1 0 0 5 0 0 77 123456 3 2\nreloading\n')).toMatchObject({
      mainPid: 77,
      mainStart: 123456,
      reloads: 3,
      reloaded: 2,
      status: 'reloading',
    });
  });

  it('refuses anything else: a flag that is not 0/1, a missing line, a third line, a negative or huge number', () => {
    for (const bad of [
      '1 2 0 0 0 0 0 0\n\n',
      '1 1 0 0 0 0 0 0\n',
      '1 1 0 0 0 0 0 0\na\nb\n',
      '-1 1 0 0 0 0 0 0\n\n',
      `1${'0'.repeat(16)} 1 0 0 0 0 0 0\n\n`,
      '1 1 0 0 0 0 0\n\n',
      '1 1 0 0 0 0 0 12345678\n\n',
      '1 1 0 0 0 0 0 0 1 2\n\n',
      '1 1 0 0 0 0 0 0 1 2 3 4\n\n',
      '',
    ])
      expect(parseReadyState(bad)).toBeNull();
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 600 }), (s) => {
        const r = parseReadyState(s);
        expect(r === null || (Number.isSafeInteger(r.instance) && !r.status.includes('\n'))).toBe(true);
      }),
    );
  });

  it('reads only a regular file within its bound, never through a link', () => {
    dir = mkdtempSync(join(tmpdir(), 'ham-ready-'));
    expect(readReadyState(dir)).toBeNull();
    writeFileSync(join(dir, 'ready'), '1 1 0 0 0 0 0 0\nok\n');
    expect(readReadyState(dir)).toMatchObject({ ready: true, status: 'ok' });
    writeFileSync(join(dir, 'ready'), `1 1 0 0 0 0 0 0\n${'x'.repeat(MAX_STATE_BYTES)}\n`);
    expect(readReadyState(dir)).toBeNull();
    rmSync(join(dir, 'ready'));
    writeFileSync(join(dir, 'real'), '1 1 0 0 0 0 0 0\nok\n');
    symlinkSync(join(dir, 'real'), join(dir, 'ready'));
    expect(readReadyState(dir)).toBeNull();
    rmSync(join(dir, 'ready'));
    mkdirSync(join(dir, 'ready'));
    expect(readReadyState(dir)).toBeNull();
  });

  it('a poke is ID-SERIAL-r, nothing else', () => {
    expect(parsePoke('3-7-r')).toEqual({ id: 3, serial: 7 });
    for (const bad of ['3-7-1', '3-0-r', '03-7-r', '.3-7-r', '3-7-r.tmp', 'x-7-r']) expect(parsePoke(bad)).toBeNull();
  });

  it('in the inbox: a poke is removed and handed on (whatever it is: a file, a folder, a link), records around it applied, junk still dropped', () => {
    dir = mkdtempSync(join(tmpdir(), 'ham-inbox-'));
    writeFileSync(join(dir, '3-1-r'), '');
    mkdirSync(join(dir, '4-1-r'));
    symlinkSync('/etc/passwd', join(dir, '5-2-r'));
    writeFileSync(join(dir, '3-1-1'), 'K 99\n');
    writeFileSync(join(dir, '3-1-x'), 'junk');
    const poked: string[] = [];
    const applied: string[] = [];
    const dropped: string[] = [];
    const inbox = new Inbox(
      dir,
      (item) => (applied.push(item.file), 'done'),
      (file) => void dropped.push(file),
      (id, serial) => void poked.push(`${id}-${serial}`),
    );
    inbox.drain();
    inbox.close();
    expect(poked.sort()).toEqual(['3-1', '4-1', '5-2']);
    expect(applied).toEqual(['3-1-1']);
    expect(dropped).toEqual(['3-1-x']);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync('/etc/passwd')).toBe(true);
  });

  it('each entity has its own path in the home; a home too long for sun_path is refused for notify, never an abstract name', () => {
    expect(readyPath('/h', 4, { kind: 'notify', watchdogMs: null })).toBe('/h/run/notify/4');
    expect(readyPath('/h', 4, { kind: 'fd', fd: 3 })).toBe('/h/run/notify/4.fd');
    const fits = `/${'d'.repeat(NOTIFY_HOME_MAX - 1)}`;
    expect(notifyHomeProblem(fits)).toBeUndefined();
    expect(Buffer.byteLength(readyPath(fits, 4_294_967_295, { kind: 'notify', watchdogMs: null }))).toBeLessThanOrEqual(107);
    const long = `${fits}x`;
    expect(notifyHomeProblem(long)).toEqual({
      expected: expect.stringMatching(/^expected a home of at most \d+ bytes for notify readiness/),
      got: `${long} (${NOTIFY_HOME_MAX + 1} bytes)`,
    });
    expect(readyPath(long, 4, { kind: 'notify', watchdogMs: null })).toBe(`${long}/run/notify/4`);
  });
});
