#!/usr/bin/env node
// Completes package-lock.json with the optional, platform-specific packages
// (esbuild, rollup, lmdb, msgpackr-extract builds for other systems) that
// `npm install` leaves out when the registry it talks to does not carry them;
// `npm ci` refuses a lock without them. Each gets its version and os/cpu, so
// npm ci skips it on any other platform, exactly as with a complete lock.
// Run after `npm install` changes the lock: node scripts/complete-lock.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['darwin', 'win32', 'linux', 'android', 'freebsd', 'openbsd', 'netbsd', 'sunos', 'aix', 'openharmony'];
const CPU = [['x64'], ['arm64'], ['ia32'], ['arm'], ['riscv64'], ['ppc64'], ['s390x'], ['loong64'], ['mips64el'], ['ppc'], ['mips']];

function platform(name) {
  const base = name.split('/').pop();
  const parts = base.split('-');
  const os = OS.find((o) => parts.includes(o)) ?? (parts.includes('sunos') ? 'sunos' : undefined);
  const cpu =
    CPU.map(([c]) => c).find((c) => parts.includes(c)) ??
    (parts.includes('arm') || base.includes('gnueabihf') || base.includes('musleabihf') ? 'arm' : undefined);
  const libc = parts.includes('musl') || base.includes('musleabihf') ? 'musl' : parts.includes('gnu') || base.includes('gnueabihf') ? 'glibc' : undefined;
  return { os, cpu, libc };
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const pkgs = lock.packages;
let added = 0;
for (const [path, meta] of Object.entries(pkgs)) {
  for (const [dep, range] of Object.entries(meta.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (pkgs[key] || pkgs[`${path}/node_modules/${dep}`]) continue;
    const { os, cpu, libc } = platform(dep);
    if (!os && !cpu) continue; // not a platform build: leave it to npm
    const version = String(range).replace(/^[\^~=]/, '');
    pkgs[key] = {
      version,
      ...(meta.dev ? { dev: true } : {}),
      optional: true,
      ...(os ? { os: [os] } : {}),
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(libc ? { libc: [libc] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(pkgs).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lock: added ${added} platform entries`);
