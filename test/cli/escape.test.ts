// Text from entities and detectors never drives the operator's terminal:
// controls are shown escaped in text output, and JSON stays exact.
import { describe, expect, it, afterEach, beforeEach } from 'vitest';
import { escapeField, escapeText, jsonSafe } from '../../src/cli/escape.js';
import { putDetector, waitDetector } from '../helpers/detectors.js';
import { ham, hamJson, request, tempHome, type TestHome } from '../helpers/ham.js';

const ESC = '\u001b';

describe('escaping', () => {
  it('escapes C0 (but structural newlines), DEL and C1; JSON stays the same value', () => {
    expect(escapeText(`a${ESC}[31mb\nc\r\u0007\u007f\u009b`)).toBe('a\\x1b[31mb\nc\\r\\x07\\x7f\\x9b');
    expect(escapeField('one\ntwo\tthree')).toBe('one\\ntwo\\tthree');
    const v = { s: `x${ESC}]0;title\u0007\u009b\u007fé` };
    const safe = jsonSafe(JSON.stringify(v));
    expect(safe).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(JSON.parse(safe)).toEqual(v);
  });
});

describe('the CLI escapes what came from outside', () => {
  let t: TestHome;
  beforeEach(async () => {
    t = tempHome();
    await hamJson(t.home, ['start', '--hang-ms', '3000']);
    await hamJson(t.home, ['attach', 'web']);
  });
  afterEach((ctx) => t.cleanup(ctx));

  it('ham detectors: an ESC-printing detector is shown escaped; --json holds the exact text, escaped by JSON', async () => {
    putDetector(t.home, 'loud', `#!/bin/sh\n# ham: kind=check entity=web interval=200ms\nprintf '\\033[2J\\033]0;owned\\007boom\\n'\nexit 1\n`);
    await waitDetector(t.home, 'loud', 'ran', (d) => d.runs >= 1 && !!d.lastResult?.includes('boom'));
    const text = await ham(t.home, ['detectors']);
    expect(text.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text.stdout).toContain('\\x1b[2J\\x1b]0;owned\\x07boom');
    const json = await ham(t.home, ['--json', 'detectors']);
    expect(json.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const parsed = JSON.parse(json.stdout) as { detectors: { name: string; lastResult: string }[] };
    expect(parsed.detectors.find((d) => d.name === 'loud')!.lastResult).toContain(`${ESC}[2J${ESC}]0;owned\u0007boom`);
  });

  it('ham events and ham status: raise types, states and details are escaped', async () => {
    await request(t.home, 'raise', { entity: 'web', type: `t${ESC}[31m\nfake line` });
    await request(t.home, 'state', { entity: 'web', state: `up\u009b2J` });
    const ev = await ham(t.home, ['events']);
    expect(ev.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(ev.stdout).toContain('type=t\\x1b[31m\\nfake line');
    expect(ev.stdout).toContain('up\\x9b2J');
    expect(ev.stdout.split('\n').some((l) => l.startsWith('fake line'))).toBe(false); // a newline in a field makes no line
    const st = await ham(t.home, ['status', 'web']);
    expect(st.stdout).toContain('up\\x9b2J');
    expect(st.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });
});
