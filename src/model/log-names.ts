// Where an entity's captured output lives: <home>/logs/FOLDER/, FOLDER its
// name made safe as one path component that cannot be a file ham keeps in
// logs/ itself (ham.log, keepers.log) nor "." or "..": '%', '/' (in the
// names of actions' logs, ENTITY/CONDITION: no entity's name has one) and a
// leading '.' or a trailing ".log"'s '.' are written %25, %2F and %2E.
import { join } from 'node:path';

export function logFolderName(entity: string): string {
  let s = entity.replace(/%/g, '%25').replace(/\//g, '%2F');
  if (s.startsWith('.')) s = `%2E${s.slice(1)}`;
  if (s.endsWith('.log')) s = `${s.slice(0, -4)}%2Elog`;
  return s;
}

/** The entity a folder in logs/ holds the output of (the inverse of logFolderName). */
export function entityOfLogFolder(folder: string): string {
  return folder.replace(/%(25|2E|2F)/g, (m) => (m === '%25' ? '%' : m === '%2E' ? '.' : '/'));
}

/**
 * The name a detector's own output is kept under (`ham logs NAME/=detector`):
 * no entity's name has a '/', and after one, a condition's name no '=' (an
 * entity's readiness command is NAME/=readiness).
 */
export function detectorLogName(detector: string): string {
  return `${detector}/=detector`;
}

export function entityLogDir(logsRoot: string, entity: string): string {
  return join(logsRoot, logFolderName(entity));
}

/** The keepers' own messages (not their entities' output), all keepers in one file. */
export const KEEPERS_LOG = 'keepers.log';
