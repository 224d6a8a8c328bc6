// The live view's files (src/http/view: plain HTML, JS and CSS, no build
// step), read once when the listener starts and served from memory.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VIEW_DIR } from '../paths.js';

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/view.js': ['view.js', 'text/javascript; charset=utf-8'],
  '/view.css': ['view.css', 'text/css; charset=utf-8'],
};

const loaded = new Map<string, { type: string; body: Buffer }>();

/** Read the files (once); a missing one is left out and its path answers 404. */
export async function loadStatic(): Promise<void> {
  await Promise.all(
    Object.entries(FILES).map(async ([path, [file, type]]) => {
      try {
        loaded.set(path, { type, body: await readFile(join(VIEW_DIR, file)) });
      } catch {
        /* not installed: the API still serves */
      }
    }),
  );
}

export function staticFile(path: string): { type: string; body: Buffer } | undefined {
  return loaded.get(path);
}
