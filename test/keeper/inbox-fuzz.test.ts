// Fuzzing what the HAM reads from keepers, against a running pair: garbage,
// truncated, oversized, wrong-typed, duplicated, out-of-order and
// unknown-entity files (and directories, FIFOs, symlinks) dropped into the
// inbox while a real entity dies and is restarted. The HAM neither crashes nor
// takes over, every bad file is reported in its log and removed, and the
// entity's real records around them are all applied (each death once).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseName } from '../../src/keeper/records.js';
import { entity } from '../helpers/entities.js';
import { hamJson, status, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeAll(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', '--hang-ms', '3000']);
  const file = join(t.home, 'web.json');
  // Restarted at once every time: the runs below kill it in quick succession.
  writeFileSync(
    file,
    JSON.stringify({
      entities: {
        web: {
          command: ['perl', '-e', 'sleep 100000', `${t.home}/web`],
          restart: { backoff: { initialMs: 0, factor: 1, maxMs: 0 } },
          conditions: { died: { type: 'death', rearm: true, actions: [{ kind: 'restart' }] } },
        },
      },
    }),
  );
  await hamJson(t.home, ['apply', '-f', file]);
  await waitStatus(t.home, 'web running', (s) => entity(s, 'web').state === 'running');
});
afterAll(() => t.cleanup());

type Content = { file: string | Buffer } | { dir: true } | { fifo: true } | { link: string };
type Name = { unknown: number } | { serial: number } | { dup: number } | { ahead: number } | { raw: string };

const validText = fc.oneof(
  fc.integer({ min: 1, max: 4_000_000 }).map((p) => `K ${p}\n`),
  fc.integer({ min: 1, max: 4_000_000 }).map((p) => `X ${p} 9\n`),
  fc.integer({ min: 0, max: 200 }).map((e) => `F ${e}\n`),
);
const content: fc.Arbitrary<Content> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 100 }).map((b) => ({ file: Buffer.from(b) })) }, // garbage
  { weight: 2, arbitrary: validText.chain((s) => fc.nat(s.length - 1).map((n) => ({ file: s.slice(0, n) }))) }, // truncated
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 200_000 }).map((n) => ({ file: Buffer.alloc(n, 'K 1\n') })) }, // oversized
  { weight: 2, arbitrary: fc.constantFrom('K abc\n', 'X 1.5 2\n', 'S -3\n', 'F 99999\n', 'P 1e3\n', 'X 7\n', 'S 1 2 3\n').map((file) => ({ file })) }, // wrong-typed
  { weight: 3, arbitrary: validText.map((file) => ({ file })) }, // well-formed, but no keeper of ours wrote it
  { weight: 1, arbitrary: fc.constantFrom<Content>({ dir: true }, { fifo: true }, { link: '/dev/zero' }, { link: '/nonexistent' }) },
);
const name: fc.Arbitrary<Name> = fc.oneof(
  fc.integer({ min: 1000, max: 1_000_000 }).map((unknown) => ({ unknown })), // no such entity
  fc.integer({ min: 100, max: 10_000 }).map((serial) => ({ serial })), // not its keeper
  fc.nat().map((dup) => ({ dup })), // a seq already applied
  fc.integer({ min: 30, max: 10_000 }).map((ahead) => ({ ahead })), // further ahead than any keeper writes
  fc.stringMatching(/^[a-z0-9_-]{1,24}$/).map((raw) => ({ raw })), // not a record name
);

describe('keeper inbox fuzz', () => {
  it('junk in the inbox never crashes the HAM, is reported and removed, and real records around it are applied', async () => {
    const before = await status(t.home);
    const inbox = join(t.home, 'run', 'inbox');
    const stage = join(t.home, 'run', 'stage');
    mkdirSync(stage, { recursive: true });
    const logFile = join(t.home, 'logs', 'ham.log');
    let round = 0;
    let deaths = entity(before, 'web').deaths;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(name, content), { minLength: 1, maxLength: 12 }), async (junk) => {
        round += 1;
        const s0 = await status(t.home);
        const web = entity(s0, 'web');
        const { keeperSerial, lastSeq, entityId } = keeperOf(t.home);
        const files: string[] = [];
        for (const [i, [n, c]] of junk.entries()) {
          let file: string =
            'unknown' in n
              ? `${n.unknown + i}-1-${i + 1}`
              : 'serial' in n
                ? `${entityId}-${keeperSerial + n.serial}-${i + 1}`
                : 'dup' in n
                  ? `${entityId}-${keeperSerial}-${1 + (n.dup % Math.max(1, lastSeq))}`
                  : 'ahead' in n
                    ? `${entityId}-${keeperSerial}-${lastSeq + n.ahead}`
                    : n.raw;
          if ('raw' in n) {
            // A raw name that happens to name a record (web's: a forged one) is made a non-record name; unique per round.
            file = parseName(file) === null ? `${file}.r${round}` : `x${file}.r${round}`;
          }
          if (files.includes(file) || readdirSync(inbox).includes(file)) continue;
          const p = join(stage, file);
          if ('file' in c) writeFileSync(p, c.file);
          else if ('dir' in c) {
            mkdirSync(p);
            writeFileSync(join(p, 'inside'), 'K 1\n');
          } else if ('fifo' in c) execFileSync('mkfifo', [p]);
          else symlinkSync(c.link, p);
          renameSync(p, join(inbox, file)); // whole, as a keeper does
          files.push(file);
        }
        // A real death among the junk: its X, then the restart's P and S.
        process.kill(web.pid!, 'SIGKILL');
        deaths += 1;
        const s = await waitStatus(
          t.home,
          `web restarted (round ${round})`,
          (x) => entity(x, 'web').deaths === deaths && entity(x, 'web').state === 'running' && entity(x, 'web').pid !== web.pid,
        );
        expect(entity(s, 'web')).toMatchObject({ deaths, restarts: deaths, lastExit: { signal: 'SIGKILL' } });
        expect(s.ham).toEqual(before.ham); // same pid, same epoch, no takeover
        expect(s.guardian.pid).toBe(before.guardian.pid);
        await waitFor('the junk removed', () => files.every((f) => !readdirSync(inbox).includes(f)));
        const log = readFileSync(logFile, 'utf8');
        for (const f of files) expect(log).toContain(`"file":${JSON.stringify(f)}`);
      }),
      { numRuns: 15 },
    );
    expect(readdirSync(inbox).filter((f) => !/^\.?\d+-\d+-\d+$/.test(f))).toEqual([]);
  });

  it('junk named as the next record of a live keeper is dropped without skipping that seq: the real record still counts', async () => {
    const before = entity(await status(t.home), 'web');
    const { keeperSerial, lastSeq, entityId } = keeperOf(t.home);
    const file = `${entityId}-${keeperSerial}-${lastSeq + 1}`;
    const inbox = join(t.home, 'run', 'inbox');
    writeFileSync(join(t.home, 'run', 'stage', file), 'X garbage\n');
    renameSync(join(t.home, 'run', 'stage', file), join(inbox, file));
    await waitFor(
      'the junk reported and removed',
      () => !readdirSync(inbox).includes(file) && readFileSync(join(t.home, 'logs', 'ham.log'), 'utf8').includes(`"file":"${file}"`),
    );
    process.kill(before.pid!, 'SIGKILL'); // its keeper writes X as that very seq
    const s = await waitStatus(
      t.home,
      'the death recorded and web restarted',
      (x) => entity(x, 'web').deaths === before.deaths + 1 && entity(x, 'web').state === 'running',
    );
    expect(entity(s, 'web').restarts).toBe(before.restarts + 1);
    expect(keeperOf(t.home).lastSeq).toBe(lastSeq + 3); // X, P, S: nothing skipped
  });
});

/** web's (only) keeper, by its folder ID-SERIAL, and the last record the HAM applied from it, by its log. */
function keeperOf(home: string): { keeperSerial: number; lastSeq: number; entityId: number } {
  const dirs = readdirSync(join(home, 'run', 'keepers'));
  expect(dirs).toHaveLength(1);
  const [entityId, keeperSerial] = dirs[0]!.split('-').map(Number);
  const seqs = readFileSync(join(home, 'logs', 'ham.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"keeper record '))
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
  return { entityId: entityId!, keeperSerial: keeperSerial!, lastSeq: Math.max(...seqs) };
}
