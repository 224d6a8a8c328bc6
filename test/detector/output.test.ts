// A detector's own output, kept under NAME/=detector the way an entity's is:
// a failing check's stderr read back with `ham logs`, a check and a stream
// that flood (binary, one huge line) kept escaped and within the bounds while
// the HAM answers, and the log going on in the same file after the HAM is
// SIGKILLed (the new HAM's runner writes it).
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { entityLogDir } from '../../src/model/log-names.js';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { pairOf } from '../helpers/entities.js';
import { applyConfig, events, ham, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
});
afterEach((ctx) => t.cleanup(ctx));

interface Line {
  time: string;
  entity: string;
  stream: string;
  instance: number;
  line: string;
}

async function logLines(name: string, n = 100_000): Promise<Line[]> {
  const r = await ham(t.home, ['--json', 'logs', name, '-n', String(n)]);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Line);
}

/** The bytes of every file in a log folder (current and the rotated ones). */
function folderBytes(name: string): { files: number; total: number; biggest: number } {
  const dir = entityLogDir(join(t.home, 'logs'), name);
  const sizes = readdirSync(dir)
    .filter((f) => f === 'current' || /^\d+$/.test(f))
    .map((f) => statSync(join(dir, f)).size);
  return { files: sizes.length, total: sizes.reduce((a, b) => a + b, 0), biggest: Math.max(...sizes) };
}

describe("a detector's own output", () => {
  it("a failing check's stderr (and stdout) can be read with `ham logs NAME/=detector`, and `ham detectors` says where", async () => {
    await applyConfig(t.home, { entities: { web: { command: ['sleep', '1000'] } } });
    // Its lines carry web's instance at each run: the first run comes after web's first start.
    await waitStatus(t.home, 'web started', (x) => x.entities.some((e) => e.name === 'web' && e.instance === 1 && e.pid !== null));
    putDetector(
      t.home,
      'probe',
      `#!/bin/sh
# ham: kind=check entity=web interval=200ms timeout=2s tries=2
echo "probing web"
echo "connect: connection refused (run $HAM_FAILURES)" >&2
exit 1
`,
    );
    const lines = await waitFor('two runs in the log', async () => {
      const l = await logLines('probe/=detector');
      return l.filter((x) => x.stream === 'stderr').length >= 2 ? l : undefined;
    });
    const web = (await status(t.home)).entities.find((e) => e.name === 'web')!;
    expect(lines[0]).toMatchObject({ entity: 'probe/=detector', stream: 'stdout', instance: web.instance, line: 'probing web' });
    expect(lines[1]).toMatchObject({ stream: 'stderr', line: 'connect: connection refused (run 0)' });
    expect(lines.filter((x) => x.stream === 'stderr').map((x) => x.line)).toContain('connect: connection refused (run 1)');
    // Without a name, every log by time, this one prefixed by its name.
    const all = await ham(t.home, ['logs']);
    expect(all.stdout).toMatch(/^probe\/=detector \| .*connection refused/m);
    const d = await waitDetector(t.home, 'probe', 'failing', (x) => x.state === 'failing');
    expect(d.output).toBe('probe/=detector');
    expect((await ham(t.home, ['detectors'])).stdout).toContain('output: ham logs probe/=detector');
  });

  it('a check printing garbage (binary, one huge line) is kept escaped and cut; one that floods is kept within its bounds; the HAM answers meanwhile', async () => {
    await applyConfig(t.home, {
      entities: { web: { command: ['sleep', '1000'] }, db: { command: ['sleep', '1000'], logs: { maxBytes: 65536, keep: 2 } } },
    });
    putDetector(
      t.home,
      'noisy',
      `#!/bin/sh
# ham: kind=check entity=web interval=300ms timeout=5s tries=1
printf 'bin\\001\\377\\n'
head -c 40000 /dev/zero | tr '\\0' x
echo
echo "the end" >&2
exit 1
`,
    );
    putDetector(
      t.home,
      'flood',
      `#!/bin/sh
# ham: kind=check entity=db interval=300ms timeout=5s tries=1
# The first run floods; later ones say a line (the flood's own note is not rotated away).
if [ ! -e "$HAM_STATE_DIR/flooded" ]; then touch "$HAM_STATE_DIR/flooded"; head -c 3000000 /dev/urandom; fi
echo "a quiet run" >&2
exit 1
`,
    );
    await waitDetector(t.home, 'flood', 'three runs', (x) => x.runs >= 3, 60_000);
    // The HAM went on answering through it.
    expect((await status(t.home)).entities.map((e) => e.name)).toContain('db');
    const noisy = await waitFor('the end of a noisy run', async () => {
      const l = await logLines('noisy/=detector');
      return l.some((x) => x.line === 'the end') ? l : undefined;
    });
    expect(noisy[0]).toMatchObject({ stream: 'stdout', line: 'bin\\x01\\xff' });
    // 40,000 bytes in one line: cut at 16 KiB twice (each piece says so), the rest a line of its own.
    const cut = `${'x'.repeat(16384)} [ham: line cut at 16384 bytes]`;
    expect([noisy[1]!.line === cut, noisy[2]!.line === cut, noisy[3]!.line === 'x'.repeat(40000 - 2 * 16384)]).toEqual([true, true, true]);
    expect(noisy[4]).toMatchObject({ stream: 'stderr', line: 'the end' });
    const flood = await logLines('flood/=detector');
    expect(flood.some((l) => l.stream === 'ham' && /^\[ham: \d+ more bytes of this run not kept: over 262144 bytes in one run\]$/.test(l.line))).toBe(true);
    // Rotated at 64 KiB keeping 2: never more than current and two older files, each within the bound.
    const b = folderBytes('flood/=detector');
    expect(b.files).toBeLessThanOrEqual(3);
    expect(b.biggest).toBeLessThanOrEqual(65536);
  });

  it("a stream's stderr is kept, a flood of it bounded by its rate and said, and its events still come", async () => {
    await applyConfig(t.home, { entities: { web: { command: ['sleep', '1000'] } } });
    putDetector(
      t.home,
      'talker',
      `#!/bin/sh
# ham: kind=stream entity=web
echo "starting up" >&2
head -c 4000000 /dev/urandom >&2
echo '{"raise":{"type":"talked","severity":1}}'
# Said again each second: a line that lands behind the flood's tail in one read is over the rate and dropped
# (rightly); one of these comes once the tail is read, whenever that is on a loaded machine.
while :; do sleep 1; echo "after the flood" >&2; done
`,
    );
    await waitFor('the event (after the flood)', async () => (await events(t.home)).find((e) => e.condition === 'raise'), 140_000, 250);
    const lines = await waitFor(
      'the line after the flood',
      async () => {
        const l = await logLines('talker/=detector');
        return l.some((x) => x.line === 'after the flood') ? l : undefined;
      },
      140_000,
    );
    expect(lines[0]).toMatchObject({ stream: 'stderr', line: 'starting up' });
    const note = lines.find((l) => /^\[ham: \d+ bytes of stderr dropped: over 65536 bytes\/s\]$/.test(l.line));
    expect(note).toBeDefined();
    // Less than the 4 MB it wrote was kept (escaped, kept whole, it would be over 10 MB): the rate's burst and what came at its rate.
    expect(folderBytes('talker/=detector').total).toBeLessThan(4_000_000);
    expect((await waitDetector(t.home, 'talker', 'running', (x) => x.state === 'running')).output).toBe('talker/=detector');
  }, 180_000); // the flood is read a chunk per 100 ms pause once over the rate: slow on a loaded machine

  it("the HAM SIGKILLed: the new HAM's runner writes on to the same log", async () => {
    await applyConfig(t.home, { entities: { web: { command: ['sleep', '1000'] } } });
    putDetector(
      t.home,
      'probe',
      `#!/bin/sh
# ham: kind=check entity=web interval=150ms timeout=2s tries=100
echo "runner $PPID says no" >&2
exit 1
`,
    );
    const first = await waitFor('a run in the log', async () => (await logLines('probe/=detector'))[0]);
    const before = await status(t.home);
    process.kill(before.ham.pid!, 'SIGKILL');
    await waitStatus(t.home, 'taken over', (s) => s.ham.epoch > before.ham.epoch && !!pairOf(s));
    const oldRunner = first.line;
    const lines = await waitFor('a run by the new runner', async () => {
      const l = await logLines('probe/=detector');
      return l.some((x) => x.line !== oldRunner) ? l : undefined;
    });
    // One log: the old runner's lines, then the new one's, in the same file.
    expect(lines[0]).toEqual(first);
    const runners = [...new Set(lines.map((l) => l.line))];
    expect(runners.length).toBeGreaterThanOrEqual(2);
    expect(runners.every((r) => /^runner \d+ says no$/.test(r))).toBe(true);
    expect(folderBytes('probe/=detector').files).toBe(1);
  });
});
