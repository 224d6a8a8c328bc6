// memory-check on real processes: node holding a filled 60 MB buffer against
// a 50 MB limit, an idle sleep, a small parent whose child is the big one.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, Scope } from './helpers.js';

let scope: Scope;
beforeEach(() => {
  scope = new Scope();
});
afterEach(() => scope.cleanup());

// Filled, so every page is resident; prints "ready" once it is.
const HOG = "const b = Buffer.alloc(60 * 1024 * 1024, 7); console.log('ready'); setInterval(() => b[0]++, 1000);";

async function hog() {
  const child = scope.spawn(process.execPath, ['-e', HOG]);
  await Scope.line(child, /^ready$/, 20_000);
  return child;
}

describe('memory-check', () => {
  it('over the limit: exit 1 with the RSS; under a larger one: exit 0', async () => {
    const big = await hog();
    const over = await run('memory-check', ['--max-rss', '50MB'], { HAM_PID: String(big.pid) });
    expect(over.code).toBe(1);
    expect(over.lines).toHaveLength(1);
    const m = new RegExp(`^pid ${big.pid} RSS (\\d+\\.\\d) MB, over 50MB$`).exec(over.line);
    expect(m, over.line).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(60);

    const under = await run('memory-check', ['--max-rss', '4GB', '--pid', String(big.pid)]);
    expect(under.code).toBe(0);
    expect(under.line).toMatch(new RegExp(`^pid ${big.pid} RSS \\d+\\.\\d MB \\(max 4GB\\)$`));
  });

  it('a small process is under the same limit', async () => {
    const small = scope.spawn('sleep', ['60']);
    const r = await run('memory-check', ['--max-rss=50MB'], { HAM_PID: String(small.pid) });
    expect(r.code).toBe(0);
    expect(r.line).toMatch(new RegExp(`^pid ${small.pid} RSS [\\d.]+ (KB|MB) \\(max 50MB\\)$`));
    // And over a tiny one (KB units).
    expect((await run('memory-check', ['--max-rss', '1KB', '--pid', String(small.pid)])).code).toBe(1);
  });

  it('--tree sums the descendants: a small shell whose child holds 60 MB', async () => {
    const shell = scope.spawn('sh', ['-c', '"$0" -e "$1" & wait', process.execPath, HOG]);
    await Scope.line(shell, /^ready$/, 20_000);
    const alone = await run('memory-check', ['--max-rss', '50MB', '--pid', String(shell.pid)]);
    expect(alone.code).toBe(0);
    const tree = await run('memory-check', ['--max-rss', '50MB', '--pid', String(shell.pid), '--tree']);
    expect(tree.code).toBe(1);
    expect(tree.line).toMatch(new RegExp(`^pid ${shell.pid} and 1 descendant RSS \\d+\\.\\d MB, over 50MB$`));
  });

  it('not running: no HAM_PID → 7, a killed pid → 7; HAM_PID not a pid → 1', async () => {
    const none = await run('memory-check', ['--max-rss', '50MB']);
    expect(none.code).toBe(7);
    expect(none.line).toBe('entity web has no pid (not running)');

    const child = scope.spawn('sleep', ['60']);
    await scope.kill(child);
    const gone = await run('memory-check', ['--max-rss', '50MB'], { HAM_PID: String(child.pid) });
    expect(gone.code).toBe(7);
    expect(gone.line).toBe(`pid ${child.pid} is not running`);

    expect((await run('memory-check', ['--max-rss', '50MB'], { HAM_PID: '12x' })).code).toBe(1);
  });

  it('bad arguments: exit 2', async () => {
    for (const args of [[], ['--max-rss'], ['--max-rss', '50'], ['--max-rss', '50TB'], ['--max-rss', '1.5GB'], ['--max-rss', '50MB', '--pid', 'abc'], ['--max-rss', '50MB', 'extra']]) {
      const r = await run('memory-check', args, { HAM_PID: String(process.pid) });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.lines).toHaveLength(1);
    }
  });
});
