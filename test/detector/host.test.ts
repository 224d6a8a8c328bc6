// The detector host: detectors hot-plugged into a running HAM (added,
// edited, removed), refused when others could write them, and reported
// when their header is wrong, while the others go on.
import { chmodSync, mkdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detector, detectors, detectorsDir, putDetector, waitDetector } from '../helpers/detectors.js';
import { ham, hamJson, lines, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
  await hamJson(t.home, ['attach', 'web']); // a placeholder to report on
});
afterEach((ctx) => t.cleanup(ctx));

/** A check that appends "VERSION epoch-ms" to a file at each run. */
const marker = (file: string, version: string, interval = '200ms'): string => `#!/bin/sh
# ham: kind=check entity=web interval=${interval} timeout=1s
echo "${version} $(date +%s%3N)" >> ${file}
`;

describe('hot-plugged detectors', () => {
  it('a detector dropped into the folder starts within a second; editing restarts it; deleting stops it', async () => {
    const runs = join(t.home, 'runs');
    const dropped = Date.now();
    putDetector(t.home, 'probe', marker(runs, 'v1'));
    const first = await waitFor('the first run', () => lines(runs)[0]);
    expect(Number(first.split(' ')[1]) - dropped).toBeLessThan(1000);
    expect(await detector(t.home, 'probe')).toMatchObject({ kind: 'check', entity: 'web', intervalMs: 200, timeoutMs: 1000, tries: 3 });

    putDetector(t.home, 'probe', marker(runs, 'v2'));
    await waitFor('the edited version runs', () => lines(runs).some((l) => l.startsWith('v2 ')));
    // Once v2 runs, v1 never runs again (the old one was stopped, not left beside it).
    const firstV2 = lines(runs).findIndex((l) => l.startsWith('v2 '));
    // A sentinel at the same interval proves time passed without any more v1 runs.
    const sentinel = join(t.home, 'sentinel');
    putDetector(t.home, 'sentinel', marker(sentinel, 's'));
    await waitFor('sentinel ran 3 times', () => lines(sentinel).length >= 3);
    expect(
      lines(runs)
        .slice(firstV2)
        .every((l) => l.startsWith('v2 ')),
    ).toBe(true);

    unlinkSync(join(detectorsDir(t.home), 'probe'));
    await waitFor('probe gone from the list', async () => (await detectors(t.home)).detectors.every((d) => d.name !== 'probe'));
    const after = lines(runs).length;
    const sentinelAt = lines(sentinel).length;
    await waitFor('sentinel ran 3 more times', () => lines(sentinel).length >= sentinelAt + 3);
    // At most the run that was already in flight when the file went.
    expect(lines(runs).length).toBeLessThanOrEqual(after + 1);
  });

  it('a world-writable detector, or one in a group-writable folder, is refused with the reason; fixing it runs it', async () => {
    const runs = join(t.home, 'open-runs');
    putDetector(t.home, 'open', marker(runs, 'o'), 0o777);
    const d = await waitDetector(t.home, 'open', 'refused', (x) => x.state === 'refused');
    expect(d.reason).toMatch(/writable by (anyone|its group) \(mode 0777\)/);
    expect(lines(runs)).toEqual([]);
    chmodSync(join(detectorsDir(t.home), 'open'), 0o700);
    await waitFor('runs once fixed', () => lines(runs).length >= 1);

    putDetector(t.home, 'noexec', marker(runs, 'n'), 0o600);
    expect((await waitDetector(t.home, 'noexec', 'refused', (x) => x.state === 'refused')).reason).toMatch(/not executable \(mode 0600/);
    // The CLI says the same, in text and in JSON.
    const text = await ham(t.home, ['detectors']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/noexec {2}refused/);
    expect(text.stdout).toContain('why: it is not executable (mode 0600; chmod u+x it)');
    const json = await hamJson<{ detectors: { name: string; state: string; kind: string | null }[] }>(t.home, ['detectors']);
    expect(json.detectors.find((d) => d.name === 'open')).toMatchObject({ state: 'healthy', kind: 'check' });
  });

  it('a detectors folder others can write is refused as a whole', async () => {
    await hamJson(t.home, ['stop']);
    const dir = join(t.home, 'shared-detectors');
    // A separate folder, group-writable, and the HAM pointed at it.
    mkdirSync(dir, { mode: 0o770 });
    chmodSync(dir, 0o770);
    writeFileSync(join(dir, 'y'), marker(join(t.home, 'y-runs'), 'y'), { mode: 0o700 });
    await hamJson(t.home, ['start', '--hang-ms', '3000', '--detectors', dir]);
    const r = await waitFor('y listed', async () => {
      const v = await detectors(t.home);
      return v.detectors.some((d) => d.name === 'y') ? v : undefined;
    });
    expect(r.dir).toBe(dir);
    expect(r.refused).toMatch(/is refused: it is writable by its group \(mode 0770\)/);
    expect(r.detectors.find((d) => d.name === 'y')).toMatchObject({ state: 'refused' });
    expect(lines(join(t.home, 'y-runs'))).toEqual([]);
    expect(statSync(dir).mode & 0o777).toBe(0o770); // reported, not changed behind the user's back
  });

  it('a detectors folder that cannot be made is reported, and the HAM serves on (also after a takeover)', async () => {
    await hamJson(t.home, ['stop']);
    const file = join(t.home, 'a-file');
    writeFileSync(file, 'not a folder');
    const refused = await ham(t.home, ['start', '--detectors', file]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--detectors: expected a folder, got a file: ${file}`);
    await hamJson(t.home, ['start', '--hang-ms', '3000', '--detectors', join(file, 'sub')]);
    const v = await detectors(t.home);
    expect(v.refused).toMatch(/cannot be used: ENOTDIR/);
    const before = await hamJson<{ ham: { pid: number; epoch: number } }>(t.home, ['status']);
    process.kill(before.ham.pid, 'SIGKILL');
    await waitFor('a new HAM serving', async () => {
      const s = await hamJson<{ ham: { epoch: number } }>(t.home, ['status']).catch(() => undefined);
      return s && s.ham.epoch > before.ham.epoch ? s : undefined;
    });
    expect((await detectors(t.home)).refused).toMatch(/cannot be used: ENOTDIR/);
  });

  it('a bad header is reported naming the key; the detector is not run and the others go on', async () => {
    const ok = join(t.home, 'ok-runs');
    putDetector(t.home, 'bad', '#!/bin/sh\n# ham: kind=chek interval=soon tries=0\necho ran >> ' + join(t.home, 'bad-runs') + '\n');
    putDetector(t.home, 'none', '#!/bin/sh\necho no header\n');
    putDetector(t.home, 'ok', marker(ok, 'k'));
    const bad = await waitDetector(t.home, 'bad', 'misconfigured', (x) => x.state === 'misconfigured');
    expect(bad.reason).toContain('header.kind: expected check or stream, got "chek"');
    expect(bad.reason).toContain('header.interval: expected a duration');
    expect(bad.reason).toContain('header.tries');
    expect((await waitDetector(t.home, 'none', 'misconfigured', (x) => x.state === 'misconfigured')).reason).toMatch(
      /expected a "# ham: kind=check\|stream \.\.\." line among the first 10 lines/,
    );
    await waitFor('ok runs', () => lines(ok).length >= 2);
    expect(lines(join(t.home, 'bad-runs'))).toEqual([]);
  });

  it('a sidecar NAME.ham.json declares a detector without a header, with args and env', async () => {
    const out = join(t.home, 'side-out');
    putDetector(t.home, 'side', `#!/bin/sh\necho "$1 $2 $GREETING $HAM_ENTITY $HAM_DETECTOR" >> ${out}\n`);
    writeFileSync(
      join(detectorsDir(t.home), 'side.ham.json'),
      JSON.stringify({ kind: 'check', entity: 'web', interval: '200ms', args: ['a b', 'c'], env: { GREETING: 'hi' } }),
      { mode: 0o600 },
    );
    await waitFor('the sidecar run', () => lines(out)[0]);
    expect(lines(out)[0]).toBe('a b c hi web side');
    const d = await detector(t.home, 'side');
    expect(d).toMatchObject({ kind: 'check', intervalMs: 200 });
  });
});
