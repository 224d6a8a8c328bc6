// A WATCHDOG=1 flood, with real processes: every beat is counted, but the
// keeper publishes a watchdog-only change at most once per gap (100 ms
// without watchdogMs), so a flooding entity costs neither its keeper nor the
// HAM a state file and a poke per datagram; READY=1 and STATUS= still go at once.
import { existsSync, readdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { readReadyState } from '../../src/keeper/ready-state.js';
import { entity } from '../helpers/entities.js';
import { applyConfig, CALM, hamJson, tempHome, waitFor, waitStatus, type TestHome } from '../helpers/ham.js';

let t: TestHome;
beforeEach(async () => {
  t = tempHome();
  await hamJson(t.home, ['start', ...CALM]);
});
afterEach((ctx) => t.cleanup(ctx));

const BEATS = 2000;
/** The watchdog-only gap without watchdogMs (keeper-ready.c). */
const GAP_MS = 100;

it('a flood of WATCHDOG=1: all counted, published at most once per gap; its STATUS= after it at once', async () => {
  const pl = [
    'use Socket; socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die $!; my $a = pack_sockaddr_un($ENV{NOTIFY_SOCKET});',
    'send($s, "READY=1\\nSTATUS=calm", 0, $a) or die $!; select(undef, undef, undef, 0.05) until -e $ARGV[0];',
    'for (1 .. $ARGV[1]) { send($s, "WATCHDOG=1", 0, $a) or die $!; select(undef, undef, undef, 0.0005) }',
    'send($s, "STATUS=flooded", 0, $a) or die $!; sleep 1000',
  ].join(' ');
  await applyConfig(t.home, { entities: { dog: { command: ['perl', '-e', pl, join(t.home, 'go'), String(BEATS)], readiness: { notify: true } } } });
  await waitStatus(t.home, 'ready', (s) => entity(s, 'dog').ready && entity(s, 'dog').readyText === 'calm');
  const keepers = join(t.home, 'run', 'keepers');
  const dir = await waitFor('its keeper state', () =>
    readdirSync(keepers)
      .map((k) => join(keepers, k))
      .find((d) => existsSync(join(d, 'ready'))),
  );
  let publishes = 0;
  const w = watch(dir, (_event, file) => void (file === 'ready' && publishes++));
  try {
    const t0 = Date.now();
    writeFileSync(join(t.home, 'go'), '');
    const last = await waitFor(
      'the flood over',
      () => {
        const s = readReadyState(dir);
        return s?.status === 'flooded' ? s : undefined;
      },
      60_000,
    );
    const elapsed = Date.now() - t0;
    expect(last.watchdog).toBe(BEATS);
    // The beats' changes at most once per gap, plus the STATUS= one and the first beat's.
    expect(publishes).toBeGreaterThan(0);
    expect(publishes).toBeLessThanOrEqual(Math.ceil(elapsed / GAP_MS) + 3);
    await waitStatus(t.home, 'the HAM has its STATUS', (s) => entity(s, 'dog').readyText === 'flooded');
  } finally {
    w.close();
  }
});
