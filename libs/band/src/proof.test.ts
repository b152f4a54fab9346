import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto';
import { TapProof } from '@tapgate/contracts';
import { generateBandKeyPair } from './keys';
import {
  ENROLL_PROOF_DOMAIN,
  PROOF_DOMAIN,
  enrollProofMessage,
  proofMessage,
  signEnrollProof,
  signProof,
  verifyEnrollProof,
  verifyProof,
  type ProofFields,
} from './proof';
import { SoftwareBand } from './software-band';
import { benchVerify } from './bench';

const fields: ProofFields = {
  challenge: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  terminalId: 'line-4_station-2',
  bandId: 'band-0001',
  timestamp: 1_735_689_600_123,
};

describe('proofMessage', () => {
  it('is the documented v1 byte string', () => {
    assert.equal(
      proofMessage(fields).toString('utf8'),
      'tapgate-tap-v1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nline-4_station-2\nband-0001\n1735689600123',
    );
    assert.equal(PROOF_DOMAIN, 'tapgate-tap-v1');
  });

  it('rejects fields that could shift into each other or are not integers', () => {
    assert.throws(() => proofMessage({ ...fields, terminalId: 'a\nb' }), /terminalId/);
    assert.throws(() => proofMessage({ ...fields, bandId: 'band 1' }), /bandId/);
    assert.throws(() => proofMessage({ ...fields, challenge: 'short' }), /challenge/);
    assert.throws(() => proofMessage({ ...fields, challenge: 'A'.repeat(20) + '=' }), /challenge/);
    assert.throws(() => proofMessage({ ...fields, timestamp: 1.5 }), /timestamp/);
    assert.throws(() => proofMessage({ ...fields, timestamp: -1 }), /timestamp/);
  });
});

describe('signProof / verifyProof', () => {
  const { privateKey, publicKey } = generateBandKeyPair();
  const proof = signProof(privateKey, fields);

  it('produces a proof that passes the contracts schema and verifies', () => {
    assert.equal(TapProof.safeParse(proof).success, true);
    assert.equal(Buffer.from(proof.signature, 'base64url').length, 64);
    assert.equal(proof.signature.length, 86);
    assert.equal(verifyProof(publicKey, fields.bandId, proof), true);
  });

  it('is standard ECDSA P-256/SHA-256 in P1363 form (WebCrypto verifies it)', async () => {
    const key = await webcrypto.subtle.importKey(
      'jwk',
      publicKey.export({ format: 'jwk' }),
      { name: 'ECDSA', namedCurve: 'P-256' },
      false,
      ['verify'],
    );
    const ok = await webcrypto.subtle.verify(
      { name: 'ECDSA', hash: 'SHA-256' },
      key,
      Buffer.from(proof.signature, 'base64url'),
      proofMessage(fields),
    );
    assert.equal(ok, true);
  });

  it('fails for any changed field, another band id, or another key', () => {
    assert.equal(verifyProof(publicKey, 'band-0002', proof), false);
    assert.equal(verifyProof(publicKey, fields.bandId, { ...proof, terminalId: 'line-4_station-3' }), false);
    assert.equal(verifyProof(publicKey, fields.bandId, { ...proof, timestamp: proof.timestamp + 1 }), false);
    assert.equal(
      verifyProof(publicKey, fields.bandId, { ...proof, challenge: 'B' + proof.challenge.slice(1) }),
      false,
    );
    const sig = Buffer.from(proof.signature, 'base64url');
    sig[10] ^= 0x01;
    assert.equal(
      verifyProof(publicKey, fields.bandId, { ...proof, signature: sig.toString('base64url') }),
      false,
    );
    assert.equal(verifyProof(generateBandKeyPair().publicKey, fields.bandId, proof), false);
  });

  it('returns false, never throws, on garbage', () => {
    const garbage: unknown[] = [
      null,
      undefined,
      42,
      'proof',
      {},
      { ...proof, signature: undefined },
      { ...proof, signature: '' },
      { ...proof, signature: proof.signature.slice(0, 85) },
      { ...proof, signature: proof.signature + 'A' },
      { ...proof, signature: proof.signature.slice(0, 85) + '!' },
      { ...proof, signature: Buffer.alloc(64).toString('base64url') },
      { ...proof, timestamp: '1735689600123' },
      { ...proof, timestamp: Number.NaN },
      { ...proof, challenge: null },
      { ...proof, terminalId: 'x\ny' },
    ];
    for (const g of garbage) {
      assert.equal(verifyProof(publicKey, fields.bandId, g as TapProof), false, JSON.stringify(g));
    }
    assert.equal(verifyProof(publicKey, 'bad\nid', proof), false);
    assert.equal(verifyProof(null as never, fields.bandId, proof), false);
    // A private key, an RSA key and a P-384 key are not band public keys.
    assert.equal(verifyProof(privateKey, fields.bandId, proof), false);
    assert.equal(
      verifyProof(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey, fields.bandId, proof),
      false,
    );
    assert.equal(
      verifyProof(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey, fields.bandId, proof),
      false,
    );
  });

  it('rejects a non-canonical base64url signature (non-zero trailing bits)', () => {
    const last = proof.signature.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    // 86 chars carry 516 bits for 512: the last character's low 4 bits are padding.
    const twin = alphabet[alphabet.indexOf(last) | 1];
    assert.notEqual(twin, last);
    assert.deepEqual(
      Buffer.from(proof.signature.slice(0, 85) + twin, 'base64url'),
      Buffer.from(proof.signature, 'base64url'),
    );
    assert.equal(
      verifyProof(publicKey, fields.bandId, { ...proof, signature: proof.signature.slice(0, 85) + twin }),
      false,
    );
  });

  it('refuses to sign with a public key or a non-P-256 key', () => {
    assert.throws(() => signProof(publicKey, fields), /private key/);
    assert.throws(
      () => signProof(generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, fields),
      /P-256/,
    );
  });

  it('signs distinct challenges into distinct proofs', () => {
    const a = signProof(privateKey, { ...fields, challenge: randomBytes(24).toString('base64url') });
    const b = signProof(privateKey, { ...fields, challenge: randomBytes(24).toString('base64url') });
    assert.notEqual(a.signature, b.signature);
    assert.equal(verifyProof(publicKey, fields.bandId, { ...a, challenge: b.challenge }), false);
  });
});

describe('benchVerify', () => {
  it('reports a positive per-verification cost', () => {
    const r = benchVerify(50);
    assert.equal(r.operations, 50);
    assert.ok(r.usPerOp > 0 && Number.isFinite(r.usPerOp));
    assert.ok(Math.abs(r.opsPerSecond * r.usPerOp - 1e6) < 1);
  });
});

describe('proof format 2 (signs the tap kind)', () => {
  const { privateKey, publicKey } = generateBandKeyPair();

  it('is the documented v2 byte string', () => {
    assert.equal(
      proofMessage(fields, { kind: 'ble' }).toString('utf8'),
      'tapgate-tap-v2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nline-4_station-2\nband-0001\n1735689600123\nble',
    );
    assert.throws(() => proofMessage(fields, { format: 2 }), /needs kind/);
  });

  it('verifies only for the kind the band signed; says format 2 on the wire and passes the schema', () => {
    const proof = signProof(privateKey, fields, { kind: 'nfc' });
    assert.equal(proof.format, 2);
    assert.equal(TapProof.safeParse(proof).success, true);
    assert.equal(verifyProof(publicKey, fields.bandId, proof, 'nfc'), true);
    assert.equal(verifyProof(publicKey, fields.bandId, proof, 'ble'), false, 'a BLE claim for an NFC answer');
    assert.equal(verifyProof(publicKey, fields.bandId, proof), false, 'no kind: cannot be checked');
    const { format: _dropped, ...asV1 } = proof;
    assert.equal(verifyProof(publicKey, fields.bandId, asV1, 'nfc'), false, 'a v2 signature read as v1');
  });

  it('a version 1 proof still verifies whatever kind the tap claims (the legacy protocol)', () => {
    const v1 = signProof(privateKey, fields);
    assert.equal(v1.format, undefined);
    assert.equal(verifyProof(publicKey, fields.bandId, v1, 'ble'), true);
    assert.equal(verifyProof(publicKey, fields.bandId, { ...v1, format: 2 }, 'nfc'), false);
  });
});

describe('enrollment proof (tapgate-enroll-v1)', () => {
  const { privateKey, publicKey } = generateBandKeyPair();
  const enroll = { ...fields, sessionId: 'S3ss10n_id-0123456789' };

  it('is the documented byte string, in its own domain', () => {
    assert.equal(
      enrollProofMessage(enroll).toString('utf8'),
      'tapgate-enroll-v1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nS3ss10n_id-0123456789\nline-4_station-2\nband-0001\n1735689600123',
    );
    assert.equal(ENROLL_PROOF_DOMAIN, 'tapgate-enroll-v1');
    assert.throws(() => enrollProofMessage({ ...enroll, sessionId: 'a\nb-cdefgh' }), /sessionId/);
  });

  it('verifies for its band and session only, and never as a tap proof (nor the reverse)', () => {
    const proof = signEnrollProof(privateKey, enroll);
    assert.equal(TapProof.safeParse(proof).success, true);
    assert.equal(verifyEnrollProof(publicKey, 'band-0001', enroll.sessionId, proof), true);
    assert.equal(verifyEnrollProof(publicKey, 'band-0002', enroll.sessionId, proof), false);
    assert.equal(verifyEnrollProof(publicKey, 'band-0001', 'another-session', proof), false);
    assert.equal(
      verifyEnrollProof(generateBandKeyPair().publicKey, 'band-0001', enroll.sessionId, proof),
      false,
    );
    assert.equal(verifyProof(publicKey, 'band-0001', proof), false);
    const tapProof = signProof(privateKey, fields);
    assert.equal(verifyEnrollProof(publicKey, 'band-0001', enroll.sessionId, tapProof), false);
  });

  it('is what a software band answers at an enrollment station, authenticated or not', () => {
    const band = SoftwareBand.generate('band-new');
    const answer = band.answerEnrollment({
      challenge: fields.challenge,
      terminalId: 'T-1',
      sessionId: enroll.sessionId,
    });
    assert.equal(answer.bandId, 'band-new');
    assert.equal(answer.publicKey.kty, 'EC');
    assert.equal(verifyEnrollProof(band.publicKey, 'band-new', enroll.sessionId, answer.proof), true);
  });
});
