import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { SectionContext } from './section';

/** PEM text for a TLS listener, plus the files it came from (for reloads and messages). */
export interface TlsMaterial {
  /** CA bundle (root first, ending with the CA that issued `cert`). */
  ca: string;
  /** Server certificate, optionally followed by intermediates. */
  cert: string;
  /** Unencrypted private key. Secret: never log it. */
  key: string;
  files: { cacertfile: string; certfile: string; keyfile: string };
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

type TlsKey = 'protocol' | 'cacertfile' | 'certfile' | 'keyfile';

/**
 * Loads the PEM files a wss listener needs and proves they work together: the CA bundle and certificate
 * parse and are within their validity dates, the key parses and belongs to the certificate.
 */
export function loadTlsMaterial(
  at: SectionContext<TlsKey>,
  paths: { cacertfile?: string; certfile?: string; keyfile?: string },
): TlsMaterial {
  const { cacertfile, certfile, keyfile } = paths;
  const required = (key: 'cacertfile' | 'certfile' | 'keyfile') =>
    at.error(key, 'required when protocol = "wss"', 'protocol');
  if (cacertfile === undefined) throw required('cacertfile');
  if (certfile === undefined) throw required('certfile');
  if (keyfile === undefined) throw required('keyfile');

  const ca = readCaBundle(at, 'cacertfile', cacertfile);
  const cert = at.readFile('certfile', certfile);
  let leaf: X509Certificate;
  try {
    [leaf] = parseCertificates(cert) as [X509Certificate];
  } catch (e) {
    if (e instanceof PemProblem) throw at.error('certfile', `${certfile} ${e.message}`);
    throw e;
  }
  const key = at.readFile('keyfile', keyfile);
  let privateKey: KeyObject;
  try {
    privateKey = parsePrivateKey(key);
  } catch (e) {
    if (e instanceof PemProblem) throw at.error('keyfile', `${keyfile} ${e.message}`);
    throw e;
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw at.error('keyfile', `${keyfile} does not match the certificate in ${certfile}`);
  }
  return { ca, cert, key, files: { cacertfile, certfile, keyfile } };
}
