// An etcd call's failure in plain words (README "Cluster", TLS): gRPC reports a TLS handshake
// that failed as "14 UNAVAILABLE: No connection established. Last error: …" with OpenSSL's
// text inside; an operator needs to know which side is wrong and which file to fix.
import type { ClusterConfig } from '../model/cluster.js';

/** Known TLS failures, first match wins: what it means, given the config (the files apply read). */
const TLS_CAUSES: { test: RegExp; say: (c: ClusterConfig, m: string) => string }[] = [
  {
    test: /altname|ERR_TLS_CERT_ALTNAME_INVALID/i,
    say: (_c, m) =>
      `the TLS handshake failed: the server's certificate is not for the name or address in the endpoint (${/altnames: (.*?)(\. Resolution note|$)/.exec(m)?.[1] ?? 'altnames do not match'})`,
  },
  {
    test: /unable to verify|self[- ]signed|unable to get (local )?issuer|certificate verify failed|UNABLE_TO_VERIFY/i,
    say: (c) =>
      `the TLS handshake failed: the server's certificate is not signed by the CA in cluster.tls.ca${c.tls ? ` (${c.tls.caFile})` : ' (none given: the system CAs were used)'}`,
  },
  {
    test: /certificate expired|CERT_HAS_EXPIRED|not yet valid/i,
    say: () => "the TLS handshake failed: the server's certificate has expired or is not valid yet",
  },
  {
    test: /bad certificate|alert number 42|certificate required|alert number 116|alert unknown ca|alert number 48/i,
    say: (c) =>
      c.tls?.certFile
        ? `the TLS handshake failed: etcd refused this node's client certificate (${c.tls.certFile}): is it signed by a CA etcd trusts (--trusted-ca-file)?`
        : 'the TLS handshake failed: etcd asks for a client certificate (--client-cert-auth): give cluster.tls.cert and cluster.tls.key',
  },
  {
    test: /wrong version number|packet length too long|http request|unknown protocol/i,
    say: () => 'the TLS handshake failed: the endpoint does not speak TLS (an http:// etcd?)',
  },
];

/** `e`'s message for an operator: a TLS cause said plainly, else gRPC's with its boilerplate cut. */
export function failureText(c: ClusterConfig, e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const tls = c.tls || c.etcd.some((x) => x.startsWith('https://'));
  if (tls) for (const t of TLS_CAUSES) if (t.test.test(m)) return t.say(c, m);
  return m
    .replace(/^\d+ [A-Z_]+: No connection established\. Last error: /, '')
    .replace(/ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, '')
    .replace(/\.? ?Resolution note: ?$/, '')
    .trim();
}
