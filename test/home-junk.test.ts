// What checks and others leave under run/ (and logs/) must not stop ham:
// `ham start` judges the folders ham opens, not what a check keeps in its
// own state folder, and leaves the inbox's junk to the inbox reader; a
// Guardian judges no more than the HAM that spawned it tolerates; and a
// detector whose folders cannot even be examined is refused, not fatal.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { putDetector, waitDetector } from './helpers/detectors.js';
import { ham, hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from './helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
  await hamJson(t.home, ['attach', 'web']); // a placeholder to report on
});
afterEach((ctx) => t.cleanup(ctx));

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');

/** SIGKILL the Guardian; the HAM spawns another, which must come up (not die at its checks, spawn after spawn). */
async function guardianRespawns(): Promise<void> {
  const before = await waitStatus(t.home, 'a guardian', (s) => s.guardian.pid !== null);
  const old = before.guardian.pid!;
  process.kill(old, 'SIGKILL');
  const after = await waitStatus(t.home, 'a new guardian', (s) => s.guardian.pid !== null && s.guardian.pid !== old, 30_000);
  await waitFor('the new guardian still alive', () => alive(after.guardian.pid!));
  const s = await status(t.home);
  expect(s.guardian.pid).toBe(after.guardian.pid);
  expect(s.ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
}

async function restarts(): Promise<void> {
  await hamJson(t.home, ['stop']);
  const r = await ham(t.home, ['start', '--hang-ms', '3000']);
  expect(r.stderr).not.toMatch(/unsafe-home/);
  expect(r.code).toBe(0);
  const s = await waitStatus(t.home, 'the pair up', (x) => x.ham.pid !== null && x.guardian.pid !== null);
  await waitFor('the guardian alive', () => alive(s.guardian.pid!));
}

describe('junk under run/ and logs/ stops neither ham start nor a Guardian', () => {
  it("a check's symlink, hard link and group-writable file in its HAM_STATE_DIR: the Guardian respawns, ham stop + start works", async () => {
    putDetector(
      t.home,
      'messy',
      `#!/bin/sh
# ham: kind=check entity=web interval=200ms timeout=1s
cd "$HAM_STATE_DIR" || exit 1
ln -sfn /etc/passwd link
echo x > loose && chmod 0664 loose
ln -f loose twin
mkdir -p deep && ln -sfn / deep/root
`,
    );
    const state = join(t.home, 'run', 'detectors', 'messy');
    await waitFor('the junk made', () => existsSync(join(state, 'twin')) && existsSync(join(state, 'deep', 'root')));
    expect(lstatSync(join(state, 'link')).isSymbolicLink()).toBe(true);
    await guardianRespawns();
    await restarts();
    await waitDetector(t.home, 'messy', 'running again after the restart', (d) => d.state === 'healthy' && d.runs > 0);
  });

  it('a record-named symlink and a junk-named one in run/inbox: ham start works; the inbox reader reports and removes them', async () => {
    await hamJson(t.home, ['stop']);
    const inbox = join(t.home, 'run', 'inbox');
    symlinkSync('/etc/passwd', join(inbox, '1-1-1'));
    symlinkSync('/nonexistent', join(inbox, 'junk'));
    const r = await ham(t.home, ['start', '--hang-ms', '3000']);
    expect(r.stderr).not.toMatch(/unsafe-home/);
    expect(r.code).toBe(0);
    const log = join(t.home, 'logs', 'ham.log');
    await waitFor('both reported and removed', () => {
      const text = readFileSync(log, 'utf8');
      return !existsSync(join(inbox, 'junk')) && !lstatExists(join(inbox, '1-1-1')) && text.includes('"file":"1-1-1"') && text.includes('"file":"junk"');
    });
    expect(readFileSync(log, 'utf8')).toMatch(/"file":"1-1-1","why":"a symbolic link"/);
    const s = await waitStatus(t.home, 'the pair up', (x) => x.guardian.pid !== null);
    await waitFor('the guardian alive', () => alive(s.guardian.pid!));
    // And one dropped while the pair runs does not kill a respawned Guardian either.
    symlinkSync('/etc/passwd', join(inbox, 'late'));
    await guardianRespawns();
  });

  it('a group-writable file dropped in logs/ while the pair runs: a respawned Guardian comes up (no stricter than the HAM)', async () => {
    const junk = join(t.home, 'logs', 'junk.txt');
    writeFileSync(junk, 'x');
    chmodSync(junk, 0o666);
    symlinkSync('/etc/passwd', join(t.home, 'logs', 'elsewhere'));
    await guardianRespawns();
  });
});

function lstatExists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

describe('a detector whose folders cannot be examined is refused, never fatal to the HAM', () => {
  it('a check that replaces run/ with a file: the HAM keeps its pid and epoch; refused with the reason; runs again once fixed', async () => {
    const run = join(t.home, 'run');
    const away = join(t.home, 'run.away');
    // Once: the check moves run/ away and leaves a file in its place ($HAM_STATE_DIR/../.. is run/).
    putDetector(
      t.home,
      'breaker',
      `#!/bin/sh
# ham: kind=check entity=web interval=200ms timeout=1s
run=$(dirname "$(dirname "$HAM_STATE_DIR")")
[ -e "${away}" ] && exit 0
mv "$run" "${away}" && echo junk > "$run"
`,
    );
    const before = await waitStatus(t.home, 'the pair up', (s) => s.ham.pid !== null && s.guardian.pid !== null);
    await waitFor('run/ replaced by a file', () => existsSync(away) && lstatExists(run) && lstatSync(run).isFile());
    const d = await waitDetector(t.home, 'breaker', 'refused', (x) => x.state === 'refused');
    expect(d.reason).toMatch(new RegExp(`its state folder is refused: .*${join(run, 'detectors')}: cannot be examined \\(ENOTDIR\\)`));
    const view = await ham(t.home, ['detectors']);
    expect(view.stdout).toMatch(/refused/);
    expect(view.stdout).toMatch(/ENOTDIR/);
    // Still the same HAM (without the fix it died at the first run judged).
    expect((await status(t.home)).ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
    rmSync(run);
    renameSync(away, run);
    mkdirSync(away); // the check's marker: it leaves run/ alone from now on
    await waitDetector(t.home, 'breaker', 'healthy once fixed', (x) => x.state === 'healthy' && x.reason === null);
    expect((await status(t.home)).ham).toMatchObject({ pid: before.ham.pid, epoch: before.ham.epoch });
  });
});
