import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { TlsMaterial } from './pem';

/**
 * The one TLS policy of every TLS server Tapgate runs (today: the ws-gateway's wss listeners; any
 * future HTTPS listener must take its options from `tlsServerOptions` too). Modelled on Mozilla's
 * "intermediate" profile without DHE: forward secrecy and AEAD only.
 *
 * - TLS 1.3 (preferred: Node negotiates the highest version both sides speak) with its three AEAD suites.
 * - TLS 1.2 with ECDHE key exchange and AES-GCM or CHACHA20-POLY1305 only: no CBC (no SHA-1 MACs, no
 *   Lucky13-style padding oracles) and no static-RSA key exchange (no forward secrecy).
 * - The server's order wins, so a client offering a weak-but-allowed suite first still gets AES-GCM.
 * - Curves X25519, P-256, P-384 for ECDHE.
 */
export const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];
export const TLS12_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
export const TLS_ECDH_CURVES = ['X25519', 'P-256', 'P-384'];

export const TLS_SERVER_POLICY = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  // Node splits one list into the TLS 1.3 suites and the OpenSSL cipher string for TLS 1.2.
  ciphers: [...TLS13_SUITES, ...TLS12_SUITES].join(':'),
  honorCipherOrder: true,
  ecdhCurve: TLS_ECDH_CURVES.join(':'),
} as const satisfies SecureContextOptions & { honorCipherOrder: boolean };

/**
 * Options for `https.createServer` / `tls.createServer` from validated PEM material and the policy above.
 * `requestClientCert` asks clients for a certificate without requiring one: the caller must check
 * `socket.authorized` (the CRL, when configured, is part of that verification).
 */
export function tlsServerOptions(material: TlsMaterial, opts: { requestClientCert: boolean }): TlsOptions {
  return {
    ...TLS_SERVER_POLICY,
    ca: material.ca,
    cert: material.cert,
    key: material.key,
    ...(material.crl !== undefined ? { crl: material.crl } : {}),
    requestCert: opts.requestClientCert,
    rejectUnauthorized: false,
  };
}
