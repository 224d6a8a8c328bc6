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
  // The first candidate that is there but cannot run says why (not executable, a folder): "not found" only when none is there.
  let why: string | undefined;
  for (const c of candidates) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(c);
    } catch {
      continue; // not there: the next candidate
    }
    if (!st.isFile()) {
      why ??= `${c} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}`;
      continue;
    }
    try {
      accessSync(c, constants.X_OK);
      return undefined;
    } catch {
      why ??= `${c} is not executable: mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
    }
  }
  if (why) return { expected: 'expected an executable file', got: `${JSON.stringify(cmd)} (${why})` };
  const where = !cmd.includes('/') ? ' in PATH' : isAbsolute(cmd) ? '' : ` relative to ${cwd}`;
  return { expected: 'expected an executable file', got: `${JSON.stringify(cmd)} (not found${where})` };
}

export function checkExecutable(entity: string, cmd: string, cwd: string, path: string | undefined): void {
  const problem = executableProblem(cmd, cwd, path);
  if (problem) throw issuesError([{ path: 'attach.argv[0]', ...problem }], { entity, max: 1 });
}
