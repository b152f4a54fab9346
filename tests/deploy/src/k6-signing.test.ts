// The k6 tap proof under Node 24 (global WebCrypto), checked by libs/band's verifier, and the scenario's
// terminal logic (k6/lib with k6 1.x stand-ins) against the whole platform: enrolled taps are granted.
// k6-v050.test.ts runs the same terminals with k6 v0.50's behaviour.
import { strict as assert } from 'node:assert';
import type { webcrypto } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { importBandPublicKey, proofMessage, verifyProof } from '@tapgate/band';
import type { TapProof } from '@tapgate/contracts';
import { importRepoModule, useK6StandIns } from './k6-stand-ins';
import { describeK6TerminalsAgainstPlatform } from './k6-terminals';

useK6StandIns('current');

type Jwk = Record<string, string>;
interface SignRequest {
  privateKey?: webcrypto.CryptoKey;
  challenge?: string;
  terminalId: string;
  bandId: string;
  timestamp: number;
}
interface ProtocolModule {
  base64url(bytes: ArrayBuffer | Uint8Array): string;
  proofMessage(request: SignRequest): Uint8Array;
  generateBandKey(): Promise<{ privateJwk: Jwk; publicJwk: Jwk }>;
  importBandKey(privateJwk: Jwk): Promise<webcrypto.CryptoKey>;
  signTap(request: SignRequest): Promise<TapProof | undefined>;
}

const CHALLENGE = 'q0Xk3v9Jd2l5bA8Zr1Yw7uT4sE6pN0mK2hG5fD8cB1a';

describe('k6 signTap (docs/protocol.md §5)', () => {
  let p: ProtocolModule;
  let band: { privateJwk: Jwk; publicJwk: Jwk };
  let key: webcrypto.CryptoKey;
  before(async () => {
    p = await importRepoModule<ProtocolModule>('k6/lib/protocol.js');
    band = await p.generateBandKey();
    key = await p.importBandKey(band.privateJwk);
  });

  const request = (over: Partial<SignRequest> = {}): SignRequest => ({
    privateKey: key,
    challenge: CHALLENGE,
    terminalId: 'k6-t7',
    bandId: 'k6-b7',
    timestamp: Date.now(),
    ...over,
  });

  it('signs the bytes libs/band defines', () => {
    const fields = { challenge: CHALLENGE, terminalId: 'k6-t7', bandId: 'k6-b7', timestamp: 1795969899123 };
    assert.deepEqual(Buffer.from(p.proofMessage(fields)), proofMessage(fields));
    for (let n = 0; n < 70; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 97 + n * 13) & 255));
      assert.equal(p.base64url(bytes), bytes.toString('base64url'), `${n} bytes`);
    }
    assert.throws(() => p.proofMessage({ ...fields, bandId: 'b\nx' }), /bandId/);
    assert.throws(() => p.proofMessage({ ...fields, timestamp: 1.5 }), /timestamp/);
  });

  it('makes a proof verifyProof accepts, and a tampered one it rejects', async () => {
    const publicKey = importBandPublicKey(band.publicJwk);
    const req = request();
    const proof = await p.signTap(req);
    assert.ok(proof);
    assert.deepEqual(Object.keys(proof).sort(), ['challenge', 'signature', 'terminalId', 'timestamp']);
    assert.equal(proof.signature.length, 86);
    assert.equal(verifyProof(publicKey, req.bandId, proof), true);

    const flipped = proof.signature[10] === 'A' ? 'B' : 'A';
    const tampered: TapProof[] = [
      { ...proof, timestamp: proof.timestamp + 1 },
      { ...proof, terminalId: 'k6-t8' },
      { ...proof, challenge: CHALLENGE.replace('q', 'r') },
      { ...proof, signature: proof.signature.slice(0, 10) + flipped + proof.signature.slice(11) },
    ];
    for (const bad of tampered) assert.equal(verifyProof(publicKey, req.bandId, bad), false);
    assert.equal(verifyProof(publicKey, 'k6-b8', proof), false);
    const other = await p.generateBandKey();
    assert.equal(verifyProof(importBandPublicKey(other.publicJwk), req.bandId, proof), false);
  });

  it('sends no proof without a key or a challenge (the unenrolled mode)', async () => {
    assert.equal(await p.signTap(request({ privateKey: undefined })), undefined);
    assert.equal(await p.signTap(request({ challenge: undefined })), undefined);
  });

  it('keeps the private key out of what it enrolls', () => {
    assert.deepEqual(Object.keys(band.publicJwk).sort(), ['crv', 'kty', 'x', 'y']);
    assert.ok(band.privateJwk.d);
  });
});

describeK6TerminalsAgainstPlatform('current');
