// Many drains at once: each keeper whose entity's main process is gone drains its FIFOs while
// anyone can write to them, and must leave as soon as nobody can (POLLHUP on its read-only ends),
// not after looking through /proc (per drain: O(N²) for N at once). Through a real HAM: 50
// entities that end together (not restarted: their keepers are told to exit) leaving no writer,
// and one whose setsid child holds its FIFOs (its drain must stay, and read it, until it ends).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { findProcesses } from '../../src/proc/procfs.js';
import { CALM, hamJson, keepersWith, procsWith, request, status, tempHome, waitFor, type TestHome } from '../helpers/ham.js';

let t: TestHome;
afterEach((ctx) => t.cleanup(ctx));

const N = 50;
const drains = (): number[] => findProcesses((a) => a[0]!.startsWith('ham-log-drain') && a[0]!.includes(t.home));
const logged = (name: string): string => {
  const p = join(t.home, 'logs', name, 'current');
  return existsSync(p) ? readFileSync(p, 'utf8') : '';
};

// Says hello, waits for `go`, says bye and exits: no process of it is left to write.
const HELLO = '$| = 1; print "hello\\n"; select(undef,undef,undef,0.05) until -e $ARGV[0]; print "bye\\n"; exit 0';
// Its main process exits at `go`; its setsid child waits for `late`, says so and exits.
const SURVIVOR =
  'use POSIX; if (!fork) { setsid(); select(undef,undef,undef,0.05) until -e $ARGV[1]; $| = 1; print "late\\n"; exit 0 } select(undef,undef,undef,0.05) until -e $ARGV[0]; exit 0';

it(`${N} drains at once whose entities left no writer are all gone; one with a writer left stays until it ends`, async () => {
  t = tempHome();
  const [go, late, mark] = [join(t.home, 'go'), join(t.home, 'late'), join(t.home, 'mark')];
  await hamJson(t.home, ['start', ...CALM]);
  for (let i = 0; i < N; i++) await request(t.home, 'attach', { name: `m${i}`, argv: ['perl', '-e', HELLO, go, mark], restart: false });
  await request(t.home, 'attach', { name: 'surv', argv: ['perl', '-e', SURVIVOR, go, late, mark], restart: false });
  const names = Array.from({ length: N }, (_, i) => `m${i}`);
  await waitFor('all said hello', () => names.every((n) => logged(n).includes(' hello\n')), 60_000, 100);
  await waitFor('the survivor’s setsid child there too', () => procsWith(mark).length === N + 2, 30_000);

  writeFileSync(go, ''); // every main process ends at once
  let last = '';
  await waitFor(
    'every keeper gone but the survivor’s drain',
    async () => {
      const dead = (await status(t.home)).entities.filter((e) => e.state === 'dead').length;
      last = `dead ${dead}, keepers ${keepersWith(mark).length}, drains ${drains().length}, processes ${procsWith(mark).length}`;
      return dead === N + 1 && keepersWith(mark).length === 0 && drains().length === 1 && procsWith(mark).length === 1;
    },
    120_000,
    100,
  ).catch((e: Error) => {
    throw new Error(`${e.message}: ${last}`);
  });
  expect(names.filter((n) => !logged(n).includes(' bye\n'))).toEqual([]); // each read to its end before its drain left

  writeFileSync(late, ''); // the last writer says its line and ends
  await waitFor('the survivor’s drain gone', () => procsWith(mark).length === 0 && drains().length === 0, 30_000);
  expect(logged('surv')).toMatch(/ out \d+ late\n/); // read by the drain before it left
}, 240_000);
