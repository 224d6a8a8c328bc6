// Detectors for tests: scripts written into a home's detectors folder.
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DetectorView } from '../../src/protocol/views.js';
import { request, waitFor } from './ham.js';

export const detectorsDir = (home: string): string => join(home, 'detectors');

/** Write an executable detector (atomically: a rename, as editors and deploy tools do). */
export function putDetector(home: string, name: string, body: string, mode = 0o700): string {
  const dir = detectorsDir(home);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, body);
  chmodSync(tmp, mode);
  renameSync(tmp, join(dir, name));
  return join(dir, name);
}

export async function detectors(home: string): Promise<{ dir: string; refused: string | null; detectors: DetectorView[] }> {
  return request(home, 'detectors', {});
}

export async function detector(home: string, name: string): Promise<DetectorView | undefined> {
  return (await detectors(home)).detectors.find((d) => d.name === name);
}

export function waitDetector(home: string, name: string, what: string, ok: (d: DetectorView) => boolean, timeoutMs = 20_000): Promise<DetectorView> {
  return waitFor(
    `${name}: ${what}`,
    async () => {
      const d = await detector(home, name);
      return d && ok(d) ? d : undefined;
    },
    timeoutMs,
  );
}
