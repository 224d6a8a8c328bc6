// Failpoints for crash tests (as etcd's gofail): HAM_FAILPOINTS names points
// that, when reached, announce themselves with a file in HAM_FAILPOINT_DIR and
// then spin, so a test can SIGKILL the process exactly there. Each point fires
// once per folder (the file stays), so the process that takes over passes.
// Unset in production: one Set lookup per call.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

const armed = new Set((process.env.HAM_FAILPOINTS ?? '').split(',').filter(Boolean));
const dir = process.env.HAM_FAILPOINT_DIR;

export function failpoint(name: string): void {
  if (armed.size === 0 || !armed.has(name) || !dir) return;
  mkdirSync(dir, { recursive: true });
  try {
    closeSync(openSync(join(dir, name), 'wx'));
  } catch {
    return; // already fired once
  }
  for (;;) {
    /* spin until killed */
  }
}
