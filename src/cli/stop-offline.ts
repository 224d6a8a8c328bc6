// `ham stop --all` when no HAM runs: the daemon's program stops the entities
// its store knows (src/daemon/stop-offline.ts); the CLI runs it and reports.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { HamError, type HamErrorShape } from '../model/errors.js';
import { homePaths } from '../model/home-paths.js';
import { DAEMON_MAIN } from './launch.js';
import { emit, type OutputOptions } from './output.js';

export interface OfflineStop {
  epoch: number;
  stopped: { name: string; pid: number; how: 'signal' | 'killed' | 'alive' }[];
}

/** undefined: the home has no store (nothing was ever run there). */
export function stopOffline(home: string): Promise<OfflineStop | undefined> {
  if (!existsSync(join(homePaths(home).store, 'data.mdb'))) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    // No timeout of ours: each entity's own stop timeout bounds it (then SIGKILL).
    execFile(process.execPath, [DAEMON_MAIN, '--home', home, '--role', 'stop-all'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      let r: (OfflineStop & { error?: undefined }) | { error: HamErrorShape };
      try {
        r = JSON.parse(stdout) as typeof r;
      } catch {
        return reject(
          new HamError({ code: 'internal', message: `the offline stop on ${home} said no report (${err?.message ?? 'exit 0'}): ${stderr.trim().slice(-500)}` }),
        );
      }
      if (r.error) return reject(new HamError(r.error));
      resolve(r);
    });
  });
}

export function describeOffline(home: string, r: OfflineStop): string {
  const by = (how: string): string[] => r.stopped.filter((s) => s.how === how).map((s) => s.name);
  const parts = [`no HAM ran on ${home}: stopped ${r.stopped.length} entit${r.stopped.length === 1 ? 'y' : 'ies'} the store knows`];
  if (by('killed').length) parts.push(`SIGKILLed after their stop timeout: ${by('killed').join(', ')}`);
  if (by('alive').length) parts.push(`STILL RUNNING after SIGKILL: ${by('alive').join(', ')}`);
  return parts.join('; ');
}

/** `ham stop --all` with no HAM: stop what the store knows, report it (exit 1 if any is still running). */
export async function stopEntitiesOffline(g: OutputOptions, home: string): Promise<void> {
  const r = await stopOffline(home);
  if (!r) return emit(g, { stopped: false, home, reason: 'not running' }, () => `not running on ${home} (no store: nothing to stop)`);
  emit(g, { stopped: true, home, ham: null, offline: true, epoch: r.epoch, entitiesStopped: true, entities: r.stopped }, () => describeOffline(home, r));
  if (r.stopped.some((s) => s.how === 'alive')) process.exitCode = 1;
}
