import { createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';

/** OpenSSL's name for NIST P-256 (secp256r1), as reported by `asymmetricKeyDetails.namedCurve`. */
const P256_OPENSSL_NAME = 'prime256v1';
const POINT_BYTES = 65;
const COORD_BYTES = 32;

/** A band public key as enrolled: JWK with only the public members. */
// A type alias (not an interface) so it is assignable to node's JsonWebKey index signature.
export type BandPublicJwk = {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
};

export class BandKeyError extends Error {
  override readonly name = 'BandKeyError';
}

export function isP256(key: KeyObject): boolean {
  return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === P256_OPENSSL_NAME;
}

export function generateBandKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

/** What every refusal of a key's form ends with: the forms that are accepted. */
export const BAND_PUBLIC_KEY_FORMS =
  'accepted: a JWK (object or JSON text, or the line `endpoint-node band new` prints), a PEM "PUBLIC KEY" block, or the base64url 65-byte uncompressed point';

/**
 * A JWK pasted as text: the JWK itself, or the `{ bandId, publicKey }` line `endpoint-node band new` prints.
 */
function jwkFromText(text: string): JsonWebKey {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BandKeyError(
      `band public key: starts with "{" but is not valid JSON; ${BAND_PUBLIC_KEY_FORMS}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BandKeyError(`band public key: JSON must be an object; ${BAND_PUBLIC_KEY_FORMS}`);
  }
  const inner = (parsed as { publicKey?: unknown }).publicKey;
  if (!('kty' in parsed) && inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
    return inner as JsonWebKey;
  }
  return parsed as JsonWebKey;
}

/**
 * Reads an enrolled band public key. Accepts a PEM SPKI public key, the base64url of the 65-byte
 * uncompressed point (0x04 || X || Y), or a public JWK (as an object or as JSON text, alone or as the
 * `publicKey` of what `endpoint-node band new` prints). Anything else, private keys included (a
 * private key where a public one belongs means a secret leaked into the enrollment), and every curve
 * but P-256 is rejected with a BandKeyError saying why.
 */
export function importBandPublicKey(input: string | JsonWebKey): KeyObject {
  let key: KeyObject;
  if (typeof input === 'string' && input.trim().startsWith('{')) {
    return importBandPublicKey(jwkFromText(input.trim()));
  }
  if (typeof input === 'string') {
    const text = input.trim();
    if (text.startsWith('-----BEGIN')) {
      if (!/^-----BEGIN PUBLIC KEY-----/.test(text)) {
        throw new BandKeyError(
          'band public key: PEM must be a "PUBLIC KEY" (SPKI) block, not a private key or certificate',
        );
      }
      key = attempt(
        () => createPublicKey({ key: text, format: 'pem' }),
        'PEM does not parse as an SPKI public key',
      );
    } else {
      key = fromRawPoint(text);
    }
  } else if (input !== null && typeof input === 'object') {
    if ('d' in input) {
      throw new BandKeyError(
        'band public key: the JWK holds a private key ("d"); enroll the public key only',
      );
    }
    if (input.kty !== 'EC' || input.crv !== 'P-256') {
      throw new BandKeyError(
        `band public key: JWK must be kty "EC", crv "P-256" (got kty ${String(input.kty)}, crv ${String(input.crv)})`,
      );
    }
    key = attempt(
      () => createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: input.x, y: input.y }, format: 'jwk' }),
      'JWK x/y are not a point on P-256',
    );
  } else {
    throw new BandKeyError(`band public key: not a key; ${BAND_PUBLIC_KEY_FORMS}`);
  }
  if (!isP256(key)) {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    throw new BandKeyError(
      `band public key: must be an EC P-256 key (got ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` ${curve}` : ''})`,
    );
  }
  return key;
}

function fromRawPoint(text: string): KeyObject {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new BandKeyError(`band public key: not a JWK, not PEM and not base64url; ${BAND_PUBLIC_KEY_FORMS}`);
  }
  const point = Buffer.from(text, 'base64url');
  if (point.length !== POINT_BYTES || point[0] !== 0x04) {
    throw new BandKeyError(
      `band public key: a raw key must be the 65-byte uncompressed P-256 point starting 0x04 (got ${point.length} bytes)`,
    );
  }
  const x = point.subarray(1, 1 + COORD_BYTES).toString('base64url');
  const y = point.subarray(1 + COORD_BYTES).toString('base64url');
  return attempt(
    () => createPublicKey({ key: { kty: 'EC', crv: 'P-256', x, y }, format: 'jwk' }),
    'the point is not on P-256',
  );
}

function attempt(make: () => KeyObject, problem: string): KeyObject {
  try {
    return make();
  } catch {
    throw new BandKeyError(`band public key: ${problem}`);
  }
}

function publicOf(key: KeyObject): KeyObject {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.type !== 'public' || !isP256(pub)) throw new BandKeyError('band key: must be an EC P-256 key');
  return pub;
}

/** The public JWK of a band key (given its public or private KeyObject). Never exports `d`. */
export function exportBandPublicKeyJwk(key: KeyObject): BandPublicJwk {
  const jwk = publicOf(key).export({ format: 'jwk' });
  return { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
}

/** The base64url of the 65-byte uncompressed point: the compact form `importBandPublicKey` accepts. */
export function exportBandPublicKeyRaw(key: KeyObject): string {
  const jwk = exportBandPublicKeyJwk(key);
  return Buffer.concat([
    Buffer.from([0x04]),
    Buffer.from(jwk.x, 'base64url'),
    Buffer.from(jwk.y, 'base64url'),
  ]).toString('base64url');
}

/** PEM SPKI of a band public key. */
export function exportBandPublicKeyPem(key: KeyObject): string {
  return publicOf(key).export({ format: 'pem', type: 'spki' }).toString();
}
