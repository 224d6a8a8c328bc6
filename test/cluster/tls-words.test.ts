// The pure parts of the cluster's TLS (src/cluster/tls-files.ts, etcd-failure.ts): what a PEM
// file of each kind must hold, and gRPC's failures (as etcd3 reported them against a real
// etcd over TLS) said in plain words. Starts no process but openssl.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failureText } from '../../src/cluster/etcd-failure.js';
import { pemProblem } from '../../src/cluster/tls-files.js';
import type { ClusterConfig } from '../../src/model/cluster.js';
import { makeCerts, type TestCerts } from '../helpers/tls.js';

let certs: TestCerts;
beforeAll(() => {
  certs = makeCerts();
});
afterAll(() => certs.remove());

const cfg = (tls?: Partial<ClusterConfig['tls']>): ClusterConfig => ({
  etcd: ['https://127.0.0.1:2379'],
  node: 'a',
  ttlMs: 3000,
  prefix: '/ham/',
  ...(tls ? { tls: { ca: '', caFile: '/etc/ham/ca.pem', ...tls } } : {}),
});
const grpc = (last: string): Error => new Error(`14 UNAVAILABLE: No connection established. Last error: ${last}. Resolution note: `);

describe('PEM files', () => {
  it('a CA or certificate holds certificates only; a key is an unencrypted private key', () => {
    const ca = readFileSync(certs.ca, 'utf8');
    const key = readFileSync(certs.clientKey, 'utf8');
    expect(pemProblem('ca', ca)).toBeUndefined();
    expect(pemProblem('cert', readFileSync(certs.clientCert, 'utf8'))).toBeUndefined();
    expect(pemProblem('key', key)).toBeUndefined();
    expect(pemProblem('ca', 'hello')).toBe('no PEM block (-----BEGIN ...-----)');
    expect(pemProblem('ca', key)).toContain('a private key: give it as cluster.tls.key');
    expect(pemProblem('key', ca)).toBe('a PEM CERTIFICATE block, not a private key');
    expect(pemProblem('key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n')).toContain('encrypted');
    expect(pemProblem('cert', '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n')).toContain('does not parse');
  });
});

describe('etcd failures in plain words', () => {
  it('names the CA file, the name mismatch, the client certificate', () => {
    expect(failureText(cfg({}), grpc('Error: unable to verify the first certificate'))).toBe(
      "the TLS handshake failed: the server's certificate is not signed by the CA in cluster.tls.ca (/etc/ham/ca.pem)",
    );
    expect(
      failureText(
        cfg({}),
        grpc("Error [ERR_TLS_CERT_ALTNAME_INVALID]: Hostname/IP does not match certificate's altnames: Host: localhost. is not cert's CN: server"),
      ),
    ).toBe("the TLS handshake failed: the server's certificate is not for the name or address in the endpoint (Host: localhost. is not cert's CN: server)");
    const alert = grpc(
      '806CAD72117F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n (2026-12-02T14:38:11.511Z)',
    );
    expect(failureText(cfg({}), alert)).toContain('etcd asks for a client certificate');
    expect(failureText(cfg({ certFile: '/etc/ham/client.pem' }), alert)).toContain("etcd refused this node's client certificate (/etc/ham/client.pem)");
  });

  it("anything else: gRPC's text without its boilerplate", () => {
    expect(failureText(cfg(), grpc('Failed to connect (2026-12-02T14:38:11.536Z)'))).toBe('Failed to connect');
    expect(failureText(cfg(), new Error('etcdserver: authentication failed, invalid user ID or password'))).toBe(
      'etcdserver: authentication failed, invalid user ID or password',
    );
  });
});
