import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import {
  BandKeyError,
  exportBandPublicKeyJwk,
  exportBandPublicKeyPem,
  exportBandPublicKeyRaw,
  generateBandKeyPair,
  importBandPublicKey,
} from './keys';

describe('importBandPublicKey', () => {
  const { privateKey, publicKey } = generateBandKeyPair();
  const jwk = exportBandPublicKeyJwk(publicKey);

  it('reads PEM SPKI, the raw 65-byte point and a JWK to the same key', () => {
    for (const input of [exportBandPublicKeyPem(publicKey), exportBandPublicKeyRaw(publicKey), jwk]) {
      const key = importBandPublicKey(input);
      assert.equal(key.type, 'public');
      assert.deepEqual(exportBandPublicKeyJwk(key), jwk);
    }
    assert.equal(Buffer.from(exportBandPublicKeyRaw(publicKey), 'base64url').length, 65);
  });

  it('exports only the public members, even from a private key', () => {
    const out = exportBandPublicKeyJwk(privateKey) as unknown as Record<string, unknown>;
    assert.deepEqual(Object.keys(out).sort(), ['crv', 'kty', 'x', 'y']);
    assert.deepEqual(out, jwk);
  });

  it('rejects other curves and key types with a clear error', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const ed = generateKeyPairSync('ed25519').publicKey;
    assert.throws(
      () => importBandPublicKey(p384.export({ format: 'pem', type: 'spki' }).toString()),
      /P-256 key \(got ec secp384r1\)/,
    );
    assert.throws(
      () => importBandPublicKey(rsa.export({ format: 'pem', type: 'spki' }).toString()),
      /P-256 key \(got rsa\)/,
    );
    assert.throws(
      () => importBandPublicKey(ed.export({ format: 'pem', type: 'spki' }).toString()),
      /P-256 key \(got ed25519\)/,
    );
    assert.throws(() => importBandPublicKey(p384.export({ format: 'jwk' })), /crv "P-256"/);
    assert.throws(() => importBandPublicKey(rsa.export({ format: 'jwk' })), /kty "EC"/);
  });

  it('rejects private keys where a public key belongs', () => {
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    assert.throws(
      () => importBandPublicKey(pem),
      (e) => e instanceof BandKeyError && /PUBLIC KEY/.test(e.message),
    );
    assert.throws(() => importBandPublicKey(privateKey.export({ format: 'jwk' })), /private key/);
  });

  it('rejects malformed input', () => {
    const raw = Buffer.from(exportBandPublicKeyRaw(publicKey), 'base64url');
    const compressed = Buffer.concat([Buffer.from([0x02]), raw.subarray(1, 33)]).toString('base64url');
    const offCurve = Buffer.concat([raw.subarray(0, 64), Buffer.from([raw[64] ^ 1])]).toString('base64url');
    assert.throws(() => importBandPublicKey(compressed), /65-byte uncompressed/);
    assert.throws(() => importBandPublicKey(raw.subarray(0, 64).toString('base64url')), /got 64 bytes/);
    assert.throws(() => importBandPublicKey(offCurve), /not on P-256/);
    assert.throws(
      () => importBandPublicKey('not a key!'),
      /not a JWK, not PEM and not base64url; accepted: a JWK/,
    );
    assert.throws(() => importBandPublicKey('{"kty":"EC",'), /not valid JSON; accepted: a JWK/);
    assert.throws(() => importBandPublicKey('{"kty":"RSA","n":"x","e":"AQAB"}'), /kty "EC", crv "P-256"/);
    assert.throws(
      () => importBandPublicKey('-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----'),
      /SPKI/,
    );
    assert.throws(
      () => importBandPublicKey({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.x }),
      /not a point on P-256/,
    );
    assert.throws(() => importBandPublicKey(null as never), /not a key; accepted: a JWK/);
  });

  it('reads a JWK pasted as text: alone, pretty-printed, or the line `endpoint-node band new` prints', () => {
    const expected = exportBandPublicKeyRaw(publicKey);
    const jwkText = JSON.stringify(exportBandPublicKeyJwk(publicKey));
    const pretty = JSON.stringify(exportBandPublicKeyJwk(publicKey), null, 2);
    const bandNewLine = JSON.stringify({ bandId: 'band-x', publicKey: exportBandPublicKeyJwk(publicKey) });
    for (const text of [jwkText, `  ${pretty}\n`, bandNewLine]) {
      assert.equal(exportBandPublicKeyRaw(importBandPublicKey(text)), expected);
    }
    const privateText = JSON.stringify(privateKey.export({ format: 'jwk' }));
    assert.throws(() => importBandPublicKey(privateText), /private key/);
  });
});
