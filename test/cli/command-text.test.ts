// The COMMAND column: shell-quoted as typed, and an adopted process's own command line.
import { execFileSync, spawn } from 'node:child_process';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { shellLine, shellWord } from '../../src/cli/command-text.js';
import { ham, hamJson, tempHome, waitStatus, type TestHome } from '../helpers/ham.js';

describe('shell quoting', () => {
  it('leaves plain words alone and quotes the rest', () => {
    expect(shellLine(['node', 'server.js', '--port=8080', '/a/b.c'])).toBe('node server.js --port=8080 /a/b.c');
    expect(shellLine(['perl', '-e', 'sleep 1', '', "it's"])).toBe(`perl -e 'sleep 1' '' 'it'\\''s'`);
  });

  it('a real sh reads back every word it quotes', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'binary' }).map((s) => s.replace(/\0/g, '')),
          { maxLength: 5 },
        ),
        (words) => {
          const out = execFileSync('sh', ['-c', `printf '%s\\0' ${words.map(shellWord).join(' ')}`], { encoding: 'utf8' });
          expect(words.length === 0 ? [] : out.slice(0, -1).split('\0')).toEqual(words);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('ham status COMMAND', () => {
  let t: TestHome;
  beforeEach(async () => {
    t = tempHome();
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
  });
  afterEach((ctx) => t.cleanup(ctx));

  it('quotes arguments with spaces and empty ones; a --pid entity shows its /proc command line', async () => {
    const marker = `${t.home}/q`;
    await hamJson(t.home, ['attach', 'q', '--', 'perl', '-e', 'sleep 100000', '', marker]);
    const outside = spawn('perl', ['-e', 'sleep 100000', `${t.home}/outside one`], { stdio: 'ignore', detached: true });
    try {
      await hamJson(t.home, ['attach', 'ext', '--pid', String(outside.pid)]);
      await waitStatus(t.home, 'q running', (s) => s.entities.some((e) => e.name === 'q' && e.state === 'running'));
      const text = (await ham(t.home, ['status'])).stdout;
      expect(text).toMatch(new RegExp(`^q .* perl -e 'sleep 100000' '' ${marker}$`, 'm'));
      expect(text).toMatch(new RegExp(`^ext .* perl -e 'sleep 100000' '${t.home}/outside one'$`, 'm'));
      expect((await ham(t.home, ['status', 'ext'])).stdout).toMatch(new RegExp(`^command: +perl -e 'sleep 100000' '${t.home}/outside one'$`, 'm'));
    } finally {
      outside.kill('SIGKILL');
    }
  });
});
