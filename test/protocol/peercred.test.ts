// Who may use the control socket: the HAM's own user and root, and users the
// home's settings name. Tested with a real other user (nobody, uid 65534)
// against a home whose socket and folders were loosened so the filesystem
// lets that user reach the socket: only the peer-credential check stands.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/protocol/frame.js';
import { ADDON_PATH, peerCredAvailable } from '../../src/protocol/peercred.js';
import { CLI_MAIN, PACKAGE_ROOT } from '../../src/paths.js';
import { CALM, ham, hamJson, request, tempHome, type TestHome } from '../helpers/ham.js';

const NOBODY = 65534;
const FIXTURE = join(PACKAGE_ROOT, 'test', 'fixtures', 'peer-client.mjs');
const asRoot = process.getuid?.() === 0;

interface PeerRun {
  uid: number;
  replies: { id: number; ok: boolean; result?: { pid: number }; error?: { code: string; message: string } }[];
  closed: boolean;
}

/** Run the fixture client as `uid` (or as ourselves) against the home's socket. */
function peer(home: string, uid?: number): Promise<PeerRun> {
  const args =
    uid === undefined
      ? [process.execPath, FIXTURE, join(home, 'ham.sock')]
      : [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, FIXTURE, join(home, 'ham.sock')];
  return new Promise((resolve, reject) => {
    execFile(uid === undefined ? args[0]! : 'setpriv', uid === undefined ? args.slice(1) : args, { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`peer client failed: ${err.message} ${stderr}`));
      const out = JSON.parse(stdout) as { uid: number; hex: string; closed: boolean };
      resolve({ uid: out.uid, replies: new FrameDecoder().push(Buffer.from(out.hex, 'hex')) as PeerRun['replies'], closed: out.closed });
    });
  });
}

/** A HamClient's ping, as a script: prints the error it got as JSON. */
const CLIENT_SCRIPT = `
const { HamClient } = await import(process.argv[1]);
const c = new HamClient(process.argv[2]);
try { await c.request('ping', {}, 20000); console.log(JSON.stringify({ ok: true })); }
catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }
`;

/** Run node with `args` as nobody; its exit code and output (killed after 30 s: one that never ends fails). */
function asNobody(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** Let other users reach the socket (what a careless admin might do). */
function loosen(home: string): void {
  chmodSync(home, 0o755);
  chmodSync(join(home, 'ham.sock'), 0o666);
}

let t: TestHome;
beforeEach(() => {
  t = tempHome();
});
afterEach((ctx) => t.cleanup(ctx));

describe.skipIf(!asRoot || !existsSync(ADDON_PATH))('peer credentials on the control socket', () => {
  it('the addon is built and loaded', () => {
    expect(peerCredAvailable).toBe(true);
  });

  it('another user is refused with an error naming its uid and how to allow it; allowed once the settings name it', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    loosen(t.home);
    const refused = await peer(t.home, NOBODY);
    expect(refused.uid).toBe(NOBODY);
    expect(refused.replies[0]?.ok).toBe(false);
    expect(refused.replies[0]?.error?.code).toBe('refused');
    expect(refused.replies[0]?.error?.message).toMatch(/uid 65534 \(nobody\) may not use this HAM.*--allow-user nobody/);
    expect(refused.closed).toBe(true);
    // The owner (root here) is still served, on the same loosened socket.
    expect((await peer(t.home)).replies[0]).toMatchObject({ id: 1, ok: true });

    // Naming the user in the settings (persisted by `ham start --allow-user`) lets it in.
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', ...CALM, '--allow-user', 'nobody']);
    loosen(t.home);
    const allowed = await peer(t.home, NOBODY);
    expect(allowed.replies[0]).toMatchObject({ id: 1, ok: true, result: { pid: expect.any(Number) } });

    // Kept for later starts; cleared with an empty list.
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', ...CALM]);
    loosen(t.home);
    expect((await peer(t.home, NOBODY)).replies[0]).toMatchObject({ ok: true });
    await hamJson(t.home, ['stop']);
    await hamJson(t.home, ['start', ...CALM, '--allow-user', '']);
    loosen(t.home);
    expect((await peer(t.home, NOBODY)).replies[0]?.error?.code).toBe('refused');
  }, 120_000);

  it('the CLI run as a refused user prints the refusal (its uid, how to allow it) and fails; a HamClient stops at it', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    loosen(t.home);
    const cli = await asNobody([CLI_MAIN, '--home', t.home, 'status']);
    expect(cli.code).not.toBe(0);
    expect(cli.out).toMatch(/uid 65534 \(nobody\) may not use this HAM.*--allow-user nobody/s);
    expect(cli.out).not.toMatch(/no HAM is running/);
    // The client library: the refusal reaches the caller, and it does not reconnect in the
    // background (the process exits by itself once the request failed).
    const lib = await asNobody([
      '--input-type=module',
      '-e',
      CLIENT_SCRIPT,
      join(PACKAGE_ROOT, 'dist', 'src', 'client', 'client.js'),
      join(t.home, 'ham.sock'),
    ]);
    expect(lib.code, lib.out).toBe(0);
    expect(JSON.parse(lib.out)).toMatchObject({ code: 'refused', message: expect.stringMatching(/uid 65534/) });
  }, 120_000);

  it('--allow-user on a running pair says it needs a restart; a bad name is refused', async () => {
    await hamJson(t.home, ['start', ...CALM]);
    const again = await ham(t.home, ['start', '--allow-user', 'nobody']);
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/takes effect when the pair starts.*ham stop/);
    const bad = await ham(t.home, ['start', '--allow-user', 'a b']);
    expect(bad.stdout + bad.stderr).toMatch(/--allow-user: expected a user name or uid, got "a b"/);
  }, 60_000);

  it('without the addon (HAM_PEERCRED=off) the HAM serves only while the socket and home are closed to others', async () => {
    await hamJson(t.home, ['start', ...CALM], { HAM_PEERCRED: 'off' });
    expect((await peer(t.home)).replies[0]).toMatchObject({ ok: true });
    loosen(t.home);
    const r = await peer(t.home, NOBODY);
    expect(r.replies[0]?.error?.code).toBe('refused');
    expect(r.replies[0]?.error?.message).toMatch(/cannot check who connects.*addon is not built/);
    // Tightened again: the owner is served.
    chmodSync(t.home, 0o700);
    chmodSync(join(t.home, 'ham.sock'), 0o600);
    expect(await request<{ pid: number }>(t.home, 'ping', {})).toMatchObject({ pid: expect.any(Number) });
  }, 60_000);
});
