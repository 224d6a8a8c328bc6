// Certificates for the cluster's TLS tests, made by `openssl` in a temporary folder: a CA, a
// server certificate for 127.0.0.1 (subjectAltName IP:127.0.0.1, signed by the CA), a client
// certificate and key (signed by it too), and another CA that signed none of them.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here. */
  otherCa: string;
  remove(): void;
}

const openssl = (args: string[]): void => void execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });

function ca(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  return { cert, key };
}

function signed(dir: string, name: string, by: { cert: string; key: string }, ext: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', key, '-out', csr]);
  openssl(['x509', '-req', '-in', csr, '-CA', by.cert, '-CAkey', by.key, '-CAcreateserial', '-days', '2', '-extfile', extFile, '-out', cert]);
  return { cert, key };
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'ham-tls-'));
  const root = ca(dir, 'ca');
  const server = signed(dir, 'server', root, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  const client = signed(dir, 'client', root, 'extendedKeyUsage=clientAuth\n');
  const other = ca(dir, 'other-ca');
  return {
    dir,
    ca: root.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    otherCa: other.cert,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
