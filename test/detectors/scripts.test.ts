// Every shipped detector: executable, lints clean (dash `sh -n`, `perl -wc`),
// Perl ones use only perl-base modules, --help answers, bad arguments exit 2
// with one line.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DETECTORS, detector, run } from './helpers.js';

const SHIPPED = ['cpu-check', 'disk-check', 'http-check', 'log-check', 'log-stream', 'memory-check', 'process-check', 'tcp-check'];
// In Debian's perl-base (dpkg -L perl-base), and cheap to load.
const PERL_BASE = new Set(['strict', 'Socket', 'Fcntl', 'Errno', 'Time::HiRes', 'POSIX']);

describe('shipped detectors', () => {
  it('are exactly the documented set, each in the README', () => {
    const files = readdirSync(DETECTORS).filter((f) => f !== 'README.md').sort();
    expect(files).toEqual(SHIPPED);
    const readme = readFileSync(detector('README.md'), 'utf8');
    for (const name of SHIPPED) expect(readme).toContain(`## ${name}`);
  });

  for (const name of SHIPPED) {
    describe(name, () => {
      const text = readFileSync(detector(name), 'utf8');

      it('is executable, lints clean, and documents its exit codes', () => {
        expect(statSync(detector(name)).mode & 0o777).toBe(0o755);
        expect(text).toMatch(/^# Exit codes/m);
        if (text.startsWith('#!/bin/sh\n')) {
          // /bin/sh is dash here: no bashisms get through -n.
          execFileSync('dash', ['-n', detector(name)]);
          expect(text).not.toMatch(/\[\[|^\s*(function|local|source|declare|let)\s|\$\{[^}]*\/\/|<<<|\$'|echo -e|==/m);
        } else {
          expect(text.startsWith('#!/usr/bin/perl\n')).toBe(true);
          const out = execFileSync('perl', ['-wc', detector(name)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
          expect(out).toBe('');
          const used = [...text.matchAll(/^use ([\w:]+)/gm)].map((m) => m[1]!);
          for (const m of used) expect(PERL_BASE, `${name} uses ${m}`).toContain(m);
        }
      });

      it('answers --help with its usage, exit 0', async () => {
        const r = await run(name, ['--help']);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^usage: ${name} `));
        expect(r.stderr).toBe('');
      });

      it('refuses an unknown option with exit 2 and one line', async () => {
        const r = await run(name, ['--no-such-option']);
        expect(r.code).toBe(2);
        expect(r.stdout).toBe('');
        expect(r.lines).toEqual([`${name}: unknown option --no-such-option (see ${name} --help)`]);
      });
    });
  }
});
