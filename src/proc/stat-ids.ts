// A process's parent and process group, from /proc/PID/stat: what the offline
// stop checks before it signals a group (a pgid is reused once its group is gone).
import { readFileSync } from 'node:fs';

export interface StatIds {
  ppid: number;
  pgrp: number;
  start: number;
}

/** Parent, group and start time of a live (non-zombie) process; undefined if gone. */
export function statIds(pid: number): StatIds | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // comm may hold spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  return { ppid: Number(rest[1]), pgrp: Number(rest[2]), start: Number(rest[19]) };
}
