import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from 'node:crypto';
import { writeFileSync } from 'node:fs';

/** The public half of a signing key as published in the JWKS. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  use: 'sig';
  alg: 'ES256';
}

export interface SigningKey {
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicJwk: PublicJwk;
  /** Where the key came from (a file path), for messages. */
  readonly source: string;
}

/** Thrown for a key file that is not an unencrypted EC P-256 private key. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
  constructor(
    readonly source: string,
    readonly problem: string,
  ) {
    super(`${source}: ${problem}`);
  }
}

/** RFC 7638 thumbprint (SHA-256, base64url) of an EC public key: the members crv, kty, x, y in that order. */
export function ecThumbprint(jwk: { crv: string; x: string; y: string }): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

function parsePrivateKey(text: string, source: string): KeyObject {
  const trimmed = text.trim();
  try {
    if (trimmed.startsWith('{')) {
      const jwk = JSON.parse(trimmed) as Record<string, unknown>;
      if (typeof jwk.d !== 'string') {
        throw new SigningKeyError(source, 'is a JWK without "d": not a private key');
      }
      return createPrivateKey({ key: jwk, format: 'jwk' });
    }
    if (trimmed.includes('-----BEGIN')) return createPrivateKey({ key: trimmed, format: 'pem' });
  } catch (e) {
    if (e instanceof SigningKeyError) throw e;
    const why = e instanceof Error ? e.message : String(e);
    throw new SigningKeyError(source, `is not an unencrypted EC private key in PEM or JWK form (${why})`);
  }
  throw new SigningKeyError(source, 'holds neither a PEM private key nor a JWK');
}

/** Reads one signing key (PEM: PKCS#8 or SEC1; or a private JWK). Only EC P-256 keys are accepted. */
export function parseSigningKey(text: string, source: string): SigningKey {
  const privateKey = parsePrivateKey(text, source);
  if (privateKey.type !== 'private') throw new SigningKeyError(source, 'is not a private key');
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  if (privateKey.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const got = privateKey.asymmetricKeyType === 'ec' ? `EC ${curve}` : privateKey.asymmetricKeyType;
    throw new SigningKeyError(source, `must be an EC P-256 key for ES256 (got ${got ?? 'unknown'})`);
  }
  const pub = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof pub.x !== 'string' || typeof pub.y !== 'string') {
    throw new SigningKeyError(source, 'public key could not be derived');
  }
  const kid = ecThumbprint({ crv: 'P-256', x: pub.x, y: pub.y });
  return {
    kid,
    privateKey,
    source,
    publicJwk: { kty: 'EC', crv: 'P-256', x: pub.x, y: pub.y, kid, use: 'sig', alg: 'ES256' },
  };
}

/**
 * Writes a new EC P-256 private key (PKCS#8 PEM, mode 0600) to `path` for [assertions].signing_key_files.
 * Refuses to overwrite an existing file, so a typo cannot destroy the key that is signing.
 */
export function generateSigningKeyFile(path: string): { path: string; kid: string } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  return { path, kid: parseSigningKey(pem, path).kid };
}
