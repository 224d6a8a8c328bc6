// Refuse a command that cannot run before attaching it, with the reason.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { HamError } from '../errors.js';

export function checkExecutable(entity: string, cmd: string, cwd: string, path: string | undefined): void {
  const candidates = cmd.includes('/') ? [isAbsolute(cmd) ? cmd : resolve(cwd, cmd)] : (path ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return;
    } catch {
      /* next candidate */
    }
  }
  const where = cmd.includes('/') ? `relative to ${cwd}` : 'in PATH';
  throw new HamError({ code: 'bad-request', entity, message: `attach.argv[0]: expected an executable file, got ${JSON.stringify(cmd)} (not found ${where})` });
}
