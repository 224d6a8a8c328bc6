// What went wrong, as data: a problem in a request or a file, and a failed
// run of an action or a detector. Shared by the wire, the store and the CLI.

/** One problem in a request or a file: where, what was expected there, what came. */
export interface Issue {
  /** `entities.web.conditions.died.actions[1].kind`; empty for the whole value. */
  path: string;
  expected: string;
  /** What came, for humans (`"yes"`, `number 3`, `an object`); absent when the issue says it all (an unexpected field). */
  got?: string;
}

/** A failed run of an action or a detector, as data (what execa's errors carry). */
export interface Failure {
  argv?: string[];
  /** Its exit code, or null when a signal ended it (or it never started). */
  exitCode?: number | null;
  signal?: string | null;
  durationMs?: number;
  timedOut?: boolean;
  /** The last bytes it wrote to stderr (bounded: STDERR_TAIL_MAX). */
  stderrTail?: string;
  /** A check's last non-empty line of output (stdout or stderr, at most 512 bytes). */
  lastLine?: string;
  /** Why it could not be started (an errno name such as ENOENT). */
  startError?: string;
}

/** The bound on a failure's `stderrTail`, in bytes. */
export const STDERR_TAIL_MAX = 2048;
