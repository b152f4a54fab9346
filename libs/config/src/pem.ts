import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { SectionContext } from './section';

/** PEM text for a TLS listener, plus the files it came from (for reloads and messages). */
export interface TlsMaterial {
  /** CA bundle (root first, ending with the CA that issued `cert`). */
  ca: string;
  /** Server certificate, optionally followed by intermediates. */
  cert: string;
  /** Unencrypted private key. Secret: never log it. */
  key: string;
  /** PEM certificate revocation list(s) checked against client certificates, when `crlfile` is set. */
  crl?: string;
  files: { cacertfile: string; certfile: string; keyfile: string; crlfile?: string };
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

class PemProblem extends Error {}

const reason = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Every certificate in a PEM bundle; rejects files without one, unparseable and out-of-date certificates. */
export function parseCertificates(pem: string, now = new Date()): X509Certificate[] {
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new PemProblem('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((block, i) => {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block);
    } catch (e) {
      throw new PemProblem(`certificate ${i + 1} does not parse (${reason(e)})`);
    }
    const validFrom = new Date(cert.validFrom);
    const validTo = new Date(cert.validTo);
    if (validTo < now) {
      throw new PemProblem(`certificate "${cert.subject}" expired on ${validTo.toISOString()}`);
    }
    if (validFrom > now) {
      throw new PemProblem(`certificate "${cert.subject}" is not valid before ${validFrom.toISOString()}`);
    }
    return cert;
  });
}

function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw new PemProblem(`is not an unencrypted PEM private key (${reason(e)})`);
  }
}

/** Reads and validates a PEM CA bundle named by `key`; returns its text. */
export function readCaBundle<K extends string>(at: SectionContext<K>, key: K, path: string): string {
  const pem = at.readFile(key, path);
  try {
    parseCertificates(pem);
  } catch (e) {
    if (e instanceof PemProblem) throw at.error(key, `${path} ${e.message}`);
    throw e;
  }
  return pem;
}

type TlsKey = 'protocol' | 'cacertfile' | 'certfile' | 'keyfile' | 'server_name' | 'crlfile';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
const MAX_CHAIN = 8;

/**
 * Walks from the leaf through the intermediates that follow it in certfile to a certificate of the CA
 * bundle, checking each signature. Returns undefined when the chain reaches the bundle, else a problem.
 * The bundle is also the trust anchor for client certificates, so a server certificate from another CA
 * is almost always a deployment mistake (the wrong secret mounted), caught here rather than by clients.
 */
function chainProblem(leaf: X509Certificate, intermediates: X509Certificate[], anchors: X509Certificate[]) {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    if (anchors.some((a) => a.raw.equals(current.raw))) return undefined;
    const anchor = anchors.find((a) => current.checkIssued(a) && current.verify(a.publicKey));
    if (anchor) return undefined;
    const next = intermediates.find(
      (c) => c !== current && current.checkIssued(c) && current.verify(c.publicKey),
    );
    if (!next) {
      return `is not issued by a CA in the cacertfile (issuer "${current.issuer.replaceAll('\n', ', ')}")`;
    }
    current = next;
  }
  return `has a certificate chain longer than ${MAX_CHAIN}`;
}

/**
 * A certificate whose extendedKeyUsage leaves out the purpose it is configured for (a client-only
 * certificate on a server, or the reverse) makes every peer fail late; say so at start-up.
 */
function usageProblem(leaf: X509Certificate, purpose: 'serverAuth' | 'clientAuth'): string | undefined {
  const oid = purpose === 'serverAuth' ? SERVER_AUTH : CLIENT_AUTH;
  const eku = leaf.keyUsage as string[] | undefined;
  if (eku === undefined || eku.length === 0) return undefined;
  if (eku.includes(oid) || eku.includes(ANY_EXTENDED_KEY_USAGE)) return undefined;
  const role = purpose === 'serverAuth' ? 'servers' : 'clients';
  return `is not valid for TLS ${role}: its extendedKeyUsage (${eku.join(', ')}) lacks ${purpose} (${oid})`;
}

/** Reads a certificate file (leaf first, then intermediates) and its key, and proves they belong together. */
function readCertificateAndKey<K extends string>(
  at: SectionContext<K>,
  keys: { cert: K; key: K },
  certfile: string,
  keyfile: string,
): { cert: string; key: string; leaf: X509Certificate; intermediates: X509Certificate[] } {
  const cert = at.readFile(keys.cert, certfile);
  let leaf: X509Certificate;
  let intermediates: X509Certificate[];
  try {
    [leaf, ...intermediates] = parseCertificates(cert) as [X509Certificate, ...X509Certificate[]];
  } catch (e) {
    if (e instanceof PemProblem) throw at.error(keys.cert, `${certfile} ${e.message}`);
    throw e;
  }
  const key = at.readFile(keys.key, keyfile);
  let privateKey: KeyObject;
  try {
    privateKey = parsePrivateKey(key);
  } catch (e) {
    if (e instanceof PemProblem) throw at.error(keys.key, `${keyfile} ${e.message}`);
    throw e;
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw at.error(keys.key, `${keyfile} does not match the certificate in ${certfile}`);
  }
  return { cert, key, leaf, intermediates };
}

function hostProblem(leaf: X509Certificate, serverName: string): string | undefined {
  const named = isIP(serverName) ? leaf.checkIP(serverName) : leaf.checkHost(serverName);
  if (named !== undefined) return undefined;
  return `does not name "${serverName}" (its names: ${leaf.subjectAltName ?? leaf.subject.replaceAll('\n', ', ')})`;
}

/**
 * Loads the PEM files a wss listener needs and proves they work together before any client tries: the
 * CA bundle and certificate parse and are within their validity dates, the key parses and belongs to the
 * certificate, the certificate chains to the CA bundle and may serve TLS (serverAuth), it names
 * `server_name` when that is set, and the `crlfile`, when set, is a usable PEM CRL.
 */
export function loadTlsMaterial(
  at: SectionContext<TlsKey>,
  paths: { cacertfile?: string; certfile?: string; keyfile?: string; server_name?: string; crlfile?: string },
): TlsMaterial {
  const { cacertfile, certfile, keyfile } = paths;
  const required = (key: 'cacertfile' | 'certfile' | 'keyfile') =>
    at.error(key, 'required when protocol = "wss"', 'protocol');
  if (cacertfile === undefined) throw required('cacertfile');
  if (certfile === undefined) throw required('certfile');
  if (keyfile === undefined) throw required('keyfile');

  const ca = readCaBundle(at, 'cacertfile', cacertfile);
  const anchors = parseCertificates(ca);
  const { cert, key, leaf, intermediates } = readCertificateAndKey(
    at,
    { cert: 'certfile', key: 'keyfile' },
    certfile,
    keyfile,
  );
  const chain = chainProblem(leaf, intermediates, anchors);
  if (chain) throw at.error('certfile', `${certfile} ${chain} ${cacertfile}`);
  const usage = usageProblem(leaf, 'serverAuth');
  if (usage) throw at.error('certfile', `${certfile} ${usage}`);
  if (paths.server_name !== undefined) {
    const host = hostProblem(leaf, paths.server_name);
    if (host) throw at.error('certfile', `${certfile} ${host} (set by server_name)`);
  }
  const material: TlsMaterial = { ca, cert, key, files: { cacertfile, certfile, keyfile } };
  if (paths.crlfile !== undefined) {
    material.crl = readCrl(at, paths.crlfile, ca);
    material.files.crlfile = paths.crlfile;
  }
  return material;
}

const CRL_BLOCK = /-----BEGIN X509 CRL-----[\s\S]*?-----END X509 CRL-----/;

/** A PEM CRL that OpenSSL accepts next to the CA bundle; its signature and dates are checked per client. */
function readCrl(at: SectionContext<TlsKey>, path: string, ca: string): string {
  const crl = at.readFile('crlfile', path);
  if (!CRL_BLOCK.test(crl)) throw at.error('crlfile', `${path} holds no PEM CRL (-----BEGIN X509 CRL-----)`);
  try {
    createSecureContext({ ca, crl });
  } catch (e) {
    throw at.error('crlfile', `${path} is not a usable CRL (${reason(e)})`);
  }
  return crl;
}

/** A client certificate and its key, for mutual TLS from a client (the endpoint node). */
export interface ClientCertificateMaterial {
  cert: string;
  /** Unencrypted private key. Secret: never log it. */
  key: string;
}

type ClientCertKey = 'certfile' | 'keyfile';

/**
 * Loads a client certificate and key for mTLS and proves them usable before connecting: both given or
 * neither, the certificate parses and is within its dates, allows clientAuth (when it restricts usage),
 * and the key belongs to it.
 */
export function loadClientCertificate(
  at: SectionContext<ClientCertKey>,
  paths: { certfile?: string; keyfile?: string },
): ClientCertificateMaterial | undefined {
  const { certfile, keyfile } = paths;
  if (certfile === undefined && keyfile === undefined) return undefined;
  if (certfile === undefined) throw at.error('certfile', 'required when keyfile is set', 'keyfile');
  if (keyfile === undefined) throw at.error('keyfile', 'required when certfile is set', 'certfile');
  const { cert, key, leaf } = readCertificateAndKey(
    at,
    { cert: 'certfile', key: 'keyfile' },
    certfile,
    keyfile,
  );
  const usage = usageProblem(leaf, 'clientAuth');
  if (usage) throw at.error('certfile', `${certfile} ${usage}`);
  return { cert, key };
}
