// `cluster.tls` of an apply file (README "Cluster", TLS): the CA, client certificate and key
// files, read once at `apply` (bounded, regular files, PEM of the right kind, the key the
// certificate's). Their contents are kept in the store with the cluster config, so a
// takeover reconnects with exactly what apply saw, not a file that may have changed since.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { closeSync, constants as fsc, fstatSync, openSync, readSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Issue } from '../errors.js';
import type { ClusterTls } from '../model/cluster.js';
import { pathText } from '../protocol/issues.js';

/** A PEM file's bound: a CA bundle of a few dozen certificates fits. */
export const TLS_FILE_MAX_BYTES = 256 * 1024;

type Kind = 'ca' | 'cert' | 'key';
const WHAT: Record<Kind, string> = {
  ca: 'a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)',
  cert: 'a PEM client certificate (-----BEGIN CERTIFICATE-----)',
  key: 'a PEM private key, not encrypted (-----BEGIN PRIVATE KEY-----, RSA or EC)',
};

function readBounded(path: string): { text: string } | { got: string } {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { got: err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'not readable (permission denied)' : (err.code ?? err.message) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { got: st.isDirectory() ? 'a directory' : 'not a regular file' };
    if (st.size > TLS_FILE_MAX_BYTES) return { got: `${st.size} bytes (at most ${TLS_FILE_MAX_BYTES})` };
    const buf = Buffer.alloc(TLS_FILE_MAX_BYTES + 1);
    let n = 0;
    for (let got; n < buf.length && (got = readSync(fd, buf, n, buf.length - n, n)) > 0;) n += got;
    if (n > TLS_FILE_MAX_BYTES) return { got: `more than ${TLS_FILE_MAX_BYTES} bytes` };
    return { text: buf.toString('utf8', 0, n) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { got: err.code ?? err.message };
  } finally {
    closeSync(fd);
  }
}

const PEM_LABEL = /-----BEGIN ([A-Z0-9 ]+)-----/g;

/** What is wrong with `text` as a file of `kind` (undefined: nothing). */
export function pemProblem(kind: Kind, text: string): string | undefined {
  const labels = [...text.matchAll(PEM_LABEL)].map((m) => m[1]!);
  if (labels.length === 0) return 'no PEM block (-----BEGIN ...-----)';
  if (kind === 'key') {
    if (labels.some((l) => l.includes('ENCRYPTED'))) return 'an encrypted private key (a passphrase cannot be given: decrypt it with openssl pkey)';
    const key = labels.find((l) => /^(RSA |EC )?PRIVATE KEY$/.test(l));
    if (!key) return `a PEM ${labels[0]} block, not a private key`;
    try {
      createPrivateKey(text);
    } catch (e) {
      return `a private key that does not parse (${(e as Error).message})`;
    }
    return undefined;
  }
  const other = labels.find((l) => l !== 'CERTIFICATE');
  if (other) return `a PEM ${other} block${other.includes('PRIVATE KEY') ? ' (a private key: give it as cluster.tls.key)' : ''}`;
  try {
    new X509Certificate(text); // the first block; the others are checked by name above
  } catch (e) {
    return `a certificate that does not parse (${(e as Error).message})`;
  }
  return undefined;
}

/**
 * Read the files `tls` names (relative paths from `baseDir`): the material to keep, or the
 * problems, each naming its field, the path, what was expected and what came.
 */
export function readTls(tls: { ca: string; cert?: string | undefined; key?: string | undefined }, baseDir: string): { tls?: ClusterTls; issues: Issue[] } {
  const issues: Issue[] = [];
  const out: Partial<ClusterTls> = {};
  for (const kind of ['ca', 'cert', 'key'] as const) {
    const given = tls[kind];
    if (given === undefined) continue;
    const path = isAbsolute(given) ? given : resolve(baseDir, given);
    const r = readBounded(path);
    const problem = 'got' in r ? r.got : pemProblem(kind, r.text);
    if (problem !== undefined) issues.push({ path: pathText(['cluster', 'tls', kind]), expected: `expected ${WHAT[kind]} at ${path}`, got: problem });
    else if ('text' in r) ((out[kind] = r.text), (out[`${kind}File`] = path));
  }
  if (issues.length === 0 && out.cert && out.key) {
    try {
      if (!new X509Certificate(out.cert).checkPrivateKey(createPrivateKey(out.key)))
        issues.push({
          path: pathText(['cluster', 'tls', 'key']),
          expected: `expected the private key of the certificate ${out.certFile}`,
          got: `another key (${out.keyFile})`,
        });
    } catch (e) {
      issues.push({
        path: pathText(['cluster', 'tls', 'key']),
        expected: `expected the private key of the certificate ${out.certFile}`,
        got: (e as Error).message,
      });
    }
  }
  return issues.length > 0 ? { issues } : { tls: out as ClusterTls, issues };
}
