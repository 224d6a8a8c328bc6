#!/usr/bin/env node
import { existsSync } from 'node:fs';
// The CLI as bundled by scripts/bundle.mjs (fewer files to load); tsc's output without that step.
const bundled = new URL('../dist/bundle/cli/main.js', import.meta.url);
const main = existsSync(bundled) ? bundled : new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('ham: not built yet; run `npm install` (or `npm run build`) in the package folder\n');
  process.exit(1);
}
await import(main.href);
