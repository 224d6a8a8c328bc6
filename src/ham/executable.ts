// Refuse a command that cannot run before attaching it, with the reason.
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { issuesError } from '../protocol/issues.js';

/** Why `cmd` cannot run from `cwd` with this PATH, or undefined when it can. */
export function executableProblem(cmd: string, cwd: string, path: string | undefined): { expected: string; got: string } | undefined {
  const candidates = cmd.includes('/')
    ? [isAbsolute(cmd) ? cmd : resolve(cwd, cmd)]
    : (path ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return undefined;
    } catch {
      /* next candidate */
    }
  }
  const where = cmd.includes('/') ? `relative to ${cwd}` : 'in PATH';
  return { expected: 'expected an executable file', got: `${JSON.stringify(cmd)} (not found ${where})` };
}

export function checkExecutable(entity: string, cmd: string, cwd: string, path: string | undefined): void {
  const problem = executableProblem(cmd, cwd, path);
  if (problem) throw issuesError([{ path: 'attach.argv[0]', ...problem }], { entity, max: 1 });
}
