// Reading a PM2 ecosystem file: JSON, YAML, or JavaScript. A .js file is the
// user's own code: it is evaluated in a child `node` process (never in the
// HAM, nor in this CLI), which prints what it exports as JSON.
import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { importError } from './model.js';
import { MAX_INPUT_BYTES, readInput } from './read.js';

// As PM2 loads it: CommonJS (module.exports), whatever the package around it
// says; a file that is an ES module (export default) through import().
const EVAL = `const file = process.argv[1];
const done = (v) => process.stdout.write(JSON.stringify(v === undefined ? null : v));
const bad = (e) => { process.stderr.write(String((e && e.stack) || e)); process.exit(3); };
const Module = require('node:module');
const src = require('node:fs').readFileSync(file, 'utf8');
let m;
try {
  m = new Module(file);
  m.filename = file;
  m.paths = Module._nodeModulePaths(require('node:path').dirname(file));
  m._compile(src, file);
} catch (e) {
  if (!(e instanceof SyntaxError) || !/\\b(import|export)\\b/.test(src)) bad(e);
  m = undefined;
}
if (m) done(m.exports && m.exports.__esModule && 'default' in m.exports ? m.exports.default : m.exports);
else import(require('node:url').pathToFileURL(file).href).then((x) => done(x.default !== undefined ? x.default : x), bad);`;

export async function loadEcosystem(file: string): Promise<unknown> {
  if (/\.(c|m)?js$/.test(file)) return evaluate(file);
  const text = readInput(file);
  if (/\.json$/.test(file) || /^\s*[[{]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (e) {
      if (/\.json$/.test(file)) {
        const pos = /position (\d+)/.exec((e as Error).message);
        const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : undefined;
        throw importError(file, line, `not valid JSON: ${(e as Error).message.split('\n')[0]}`);
      }
    }
  }
  const yaml = await import('yaml');
  try {
    return yaml.parse(text, { prettyErrors: true });
  } catch (e) {
    const line = e instanceof yaml.YAMLParseError ? e.linePos?.[0]?.line : undefined;
    throw importError(file, line, `not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

function evaluate(file: string): unknown {
  readInput(file); // a missing or huge file is said as for the other formats
  const r = spawnSync(process.execPath, ['-e', EVAL, file], {
    cwd: dirname(file),
    encoding: 'utf8',
    timeout: 20_000,
    maxBuffer: MAX_INPUT_BYTES,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) throw importError(file, undefined, `evaluating it in node failed: ${r.error.message}`);
  if (r.status !== 0) {
    // The stack names the file and line of the problem; keep its first lines.
    const why = (r.stderr || '').split('\n').filter(Boolean).slice(0, 5).join(' | ');
    const line = new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`).exec(r.stderr || '');
    throw importError(file, line ? Number(line[1]) : undefined, `evaluating it in node failed${r.signal ? ` (${r.signal})` : ''}: ${why.slice(0, 600)}`);
  }
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw importError(file, undefined, 'what it exports is not JSON data (functions, cycles?)');
  }
}
