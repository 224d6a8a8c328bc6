// The home trusts nothing others planted: another user's link, folder or a
// folder anyone may write refuses the start, naming the path; a loose home
// of ours is tightened only when nothing in it is someone else's. The
// detectors folder and those above it are judged at every run.
// "Another user" is nobody (uid 65534): tests run as root and chown to it.
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detectors, putDetector, waitDetector } from './helpers/detectors.js';
import { daemons, ham, hamJson, lines, tempHome, waitFor, type TestHome } from './helpers/ham.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let t: TestHome;
let elsewhere: string;
beforeEach(() => {
  t = tempHome();
  elsewhere = mkdtempSync(join(tmpdir(), 'ham-elsewhere-'));
});
afterEach((ctx) => {
  rmSync(elsewhere, { recursive: true, force: true });
  t.cleanup(ctx);
});

async function refused(pattern: RegExp): Promise<void> {
  const r = await ham(t.home, ['start', '--hang-ms', '3000']);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(pattern);
  expect(daemons(t.home)).toEqual([]);
}

describe.skipIf(!asRoot)('what ham opens in its home must be its own', () => {
  it("another user's logs symlink: refused naming it, and nothing is written through it", async () => {
    chownSync(elsewhere, NOBODY, NOBODY);
    symlinkSync(elsewhere, join(t.home, 'logs'));
    lchownSync(join(t.home, 'logs'), NOBODY, NOBODY);
    await refused(new RegExp(`unsafe-home: ${join(t.home, 'logs')}: it is a symbolic link \\(to ${elsewhere}, owned by uid ${NOBODY}\\).*remove it`));
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it("a store folder owned by another user: refused; so is another user's database file", async () => {
    mkdirSync(join(t.home, 'store'), { mode: 0o700 });
    chownSync(join(t.home, 'store'), NOBODY, NOBODY);
    await refused(new RegExp(`${join(t.home, 'store')}: it is owned by uid ${NOBODY}, not by ham's user \\(uid 0\\)`));
    chownSync(join(t.home, 'store'), 0, 0);
    writeFileSync(join(t.home, 'store', 'lock.mdb'), '', { mode: 0o600 });
    chownSync(join(t.home, 'store', 'lock.mdb'), NOBODY, NOBODY);
    await refused(new RegExp(`${join(t.home, 'store', 'lock.mdb')}: it is owned by uid ${NOBODY}`));
  });

  it('a world-writable run/ folder: refused with how to fix it', async () => {
    mkdirSync(join(t.home, 'run'), { mode: 0o700 });
    chmodSync(join(t.home, 'run'), 0o777);
    await refused(new RegExp(`${join(t.home, 'run')}: it is writable by anyone \\(mode 0777\\); chmod go-w ${join(t.home, 'run')}`));
  });

  it("a 0777 home holding another user's folder is refused and left as it is", async () => {
    chmodSync(t.home, 0o777);
    mkdirSync(join(t.home, 'store'), { mode: 0o700 });
    chownSync(join(t.home, 'store'), NOBODY, NOBODY);
    await refused(new RegExp(`${join(t.home, 'store')}: it is owned by uid ${NOBODY}, in a home others could write into`));
    expect(statSync(t.home).mode & 0o777).toBe(0o777);
  });

  it('a clean home starts; a loose home of ours only is tightened to 0700 and starts', async () => {
    chmodSync(t.home, 0o777);
    writeFileSync(join(t.home, 'notes'), 'mine');
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    expect(statSync(t.home).mode & 0o777).toBe(0o700);
    expect(existsSync(join(t.home, 'store', 'data.mdb'))).toBe(true);
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', '--hang-ms', '3000']); // its own files pass the checks at a later start
  });
});

describe('the detectors folder and those above it are judged at every run', () => {
  beforeEach(async () => {
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await hamJson(t.home, ['attach', 'web']);
  });

  for (const which of ['the detectors folder', 'the folder above it (the home)'] as const) {
    it(`chmod 0777 of ${which} while it runs: refused at the next run with the reason; runs again once fixed`, async () => {
      const runs = join(t.home, 'runs');
      putDetector(t.home, 'probe', `#!/bin/sh\n# ham: kind=check entity=web interval=150ms timeout=1s\necho run >> ${runs}\n`);
      await waitFor('probe runs', () => lines(runs).length >= 2);
      const dir = which === 'the detectors folder' ? join(t.home, 'detectors') : t.home;
      chmodSync(dir, 0o777);
      try {
        const d = await waitDetector(t.home, 'probe', 'refused', (x) => x.state === 'refused');
        expect(d.reason).toMatch(
          which === 'the detectors folder'
            ? /is refused: it is writable by anyone \(mode 0777\)/
            : new RegExp(`the folder ${t.home} above it is writable by anyone \\(mode 0777\\) without the sticky bit`),
        );
        const view = await ham(t.home, ['detectors']);
        expect(view.stdout).toMatch(/writable by anyone/);
      } finally {
        chmodSync(dir, 0o700);
      }
      await waitDetector(t.home, 'probe', 'healthy again', (x) => x.state === 'healthy' && x.reason === null);
      const after = lines(runs).length;
      await waitFor('runs again', () => lines(runs).length > after);
    });
  }

  it('a detector that is a symlink into a world-writable, non-sticky folder: refused naming that folder; runs once it is fixed', async () => {
    const runs = join(t.home, 'runs');
    const target = join(elsewhere, 'probe');
    writeFileSync(target, `#!/bin/sh\n# ham: kind=check entity=web interval=150ms timeout=1s\necho run >> ${runs}\n`, { mode: 0o700 });
    chmodSync(elsewhere, 0o777); // anyone could swap the file for their own
    symlinkSync(target, join(t.home, 'detectors', 'probe'));
    const d = await waitDetector(t.home, 'probe', 'refused', (x) => x.state === 'refused');
    expect(d.reason).toMatch(
      new RegExp(`it links to ${target}, and the folder ${elsewhere} on the way there is writable by anyone \\(mode 0777\\) without the sticky bit`),
    );
    expect(existsSync(runs)).toBe(false);
    chmodSync(elsewhere, 0o700);
    await waitDetector(t.home, 'probe', 'healthy once fixed', (x) => x.state === 'healthy' && x.reason === null);
    await waitFor('it ran', () => lines(runs).length > 0);
  });

  it('a running stream detector is stopped when its folder becomes writable by others, and started again once fixed', async () => {
    putDetector(t.home, 'watcher', `#!/bin/sh\n# ham: kind=stream entity=web\nexec sleep 100000\n`);
    const running = await waitDetector(t.home, 'watcher', 'running', (x) => x.state === 'running' && x.pid !== null);
    const dir = join(t.home, 'detectors');
    chmodSync(dir, 0o777);
    try {
      const d = await waitDetector(t.home, 'watcher', 'refused', (x) => x.state === 'refused');
      expect(d.reason).toMatch(/is refused: it is writable by anyone \(mode 0777\)/);
      expect(d.pid).toBeNull();
      await waitFor(
        'the stream process gone',
        () => !existsSync(`/proc/${running.pid}`) || readFileSync(`/proc/${running.pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z'),
      );
    } finally {
      chmodSync(dir, 0o700);
    }
    const again = await waitDetector(t.home, 'watcher', 'running again', (x) => x.state === 'running' && x.pid !== null);
    expect(again.pid).not.toBe(running.pid);
  });
});
