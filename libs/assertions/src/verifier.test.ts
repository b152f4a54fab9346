import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AssertionError, type AssertionFailure } from './errors';
import { loadJose } from './jose';
import { MemoryReplayStore } from './replay-store';
import { AssertionSigner } from './signer';
import { loginClaims, manualClock, startJwksServer } from './test-helpers';
import { AssertionVerifier, type AssertionVerifierOptions } from './verifier';

const AUD = 'https://mes.example.com/NES';
const newKey = () => ({
  key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    format: 'pem',
    type: 'pkcs8',
  }) as string,
});

async function refused(p: Promise<unknown>, reason: AssertionFailure): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof AssertionError, `expected AssertionError, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    return true;
  });
}

describe('assertions: sign and verify against a JWKS served over HTTP', () => {
  const clock = manualClock();
  const keyA = newKey();
  const keyB = newKey();
  const signerA = new AssertionSigner({ signingKeys: [keyA], now: clock.now });
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  const verifier = (opts: Partial<AssertionVerifierOptions> = {}) =>
    new AssertionVerifier({ jwksUrl: jwks.url, audience: AUD, kind: 'login', now: clock.now, ...opts });

  before(async () => {
    jwks = await startJwksServer(signerA.jwks());
  });
  after(() => jwks.close());

  it('round trip: the claims come back typed, with iss, iat, exp = iat + ttl and a jti', async () => {
    const signed = await signerA.sign(loginClaims());
    const claims = await verifier().verify(signed.jws);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.iss, 'tapgate');
    assert.equal(claims.aud, AUD);
    assert.equal(claims.jti, signed.jti);
    assert.equal(claims.exp, signed.exp);
    assert.equal(claims.exp - claims.iat, 60);
    assert.equal(claims.tapgate.displayName, 'Alice Able');
    const { decodeProtectedHeader } = await loadJose();
    assert.deepEqual(decodeProtectedHeader(signed.jws), {
      alg: 'ES256',
      kid: signerA.kid,
      typ: 'tapgate-assertion+jwt',
    });
  });

  it('a JWS altered by one byte anywhere fails', async () => {
    const { jws } = await signerA.sign(loginClaims());
    const v = verifier();
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < jws.length; i++) {
      if (jws[i] === '.') continue;
      const replacement = alphabet[(alphabet.indexOf(jws[i]) + 1 + (i % 63)) % 64];
      const altered = jws.slice(0, i) + replacement + jws.slice(i + 1);
      await assert.rejects(v.verify(altered), AssertionError, `altered at ${i} must fail`);
    }
    // The last signature character carries 2 unused bits that decoders ignore: every other value must fail too.
    for (const c of alphabet) {
      if (c === jws.at(-1)) continue;
      await assert.rejects(v.verify(jws.slice(0, -1) + c), AssertionError, `last character ${c} must fail`);
    }
    // Altering the payload in the middle is a signature failure, not something vaguer.
    const mid = jws.indexOf('.') + 20;
    await refused(
      v.verify(`${jws.slice(0, mid)}${jws[mid] === 'A' ? 'B' : 'A'}${jws.slice(mid + 1)}`),
      'bad_signature',
    );
    // The untouched token still verifies (the failures above did not use up its jti).
    assert.equal((await v.verify(jws)).sub, 'alice');
  });

  it('key rotation: old tokens still verify, new ones use the new kid, the verifier refetches on an unknown kid', async () => {
    const v = verifier();
    const oldToken = await signerA.sign(loginClaims());
    const beforeRotation = await signerA.sign(loginClaims());
    await v.verify(beforeRotation.jws);
    const fetchesBefore = jwks.fetches();

    // Rotation: the new key goes first (it signs), the old one stays published.
    const rotated = new AssertionSigner({ signingKeys: [keyB, keyA], now: clock.now });
    assert.notEqual(rotated.kid, signerA.kid);
    assert.deepEqual(
      rotated.jwks().keys.map((k) => k.kid),
      [rotated.kid, signerA.kid],
    );
    jwks.publish(rotated.jwks());
    const newToken = await rotated.sign(loginClaims());
    const { decodeProtectedHeader } = await loadJose();
    assert.equal(decodeProtectedHeader(newToken.jws).kid, rotated.kid);

    assert.equal((await v.verify(oldToken.jws)).jti, oldToken.jti);
    assert.equal(jwks.fetches(), fetchesBefore, 'a known kid is served from the cache');
    clock.advance(5_000);
    assert.equal((await v.verify(newToken.jws)).jti, newToken.jti);
    assert.equal(jwks.fetches(), fetchesBefore + 1, 'the unknown kid caused exactly one refetch');
  });

  it('an unpublished key is unknown_key, and forged kids do not refetch within the cooldown', async () => {
    const v = verifier();
    await v.verify((await signerA.sign(loginClaims())).jws);
    const rogue = new AssertionSigner({ signingKeys: [newKey()], now: clock.now });
    const count = jwks.fetches();
    clock.advance(5_000);
    await refused(v.verify((await rogue.sign(loginClaims())).jws), 'unknown_key');
    assert.equal(jwks.fetches(), count + 1);
    for (let i = 0; i < 5; i++) await refused(v.verify((await rogue.sign(loginClaims())).jws), 'unknown_key');
    assert.equal(jwks.fetches(), count + 1, 'no refetch within the cooldown');
  });

  it('expired: refused after exp plus the clock tolerance, accepted just within it', async () => {
    const v = verifier({ clockToleranceSeconds: 5 });
    const late = await signerA.sign(loginClaims());
    const later = await signerA.sign(loginClaims());
    clock.advance(64_000);
    await v.verify(late.jws);
    clock.advance(2_000);
    await refused(v.verify(later.jws), 'expired');
  });

  it('wrong audience and wrong issuer are refused, and do not use up the jti', async () => {
    const signed = await signerA.sign(loginClaims());
    await refused(verifier({ audience: 'https://other.example.com' }).verify(signed.jws), 'wrong_audience');
    await refused(verifier({ issuer: 'someone-else' }).verify(signed.jws), 'wrong_issuer');
    const shared = new MemoryReplayStore(clock.now);
    await refused(verifier({ audience: 'x', replayStore: shared }).verify(signed.jws), 'wrong_audience');
    assert.equal((await verifier({ replayStore: shared }).verify(signed.jws)).jti, signed.jti);
  });

  it('a replayed assertion is refused', async () => {
    const v = verifier();
    const signed = await signerA.sign(loginClaims());
    await v.verify(signed.jws);
    await refused(v.verify(signed.jws), 'replayed');
    // Two verifiers sharing a store (two replicas of the NEA's backend) accept it once between them.
    const store = new MemoryReplayStore(clock.now);
    const other = await signerA.sign(loginClaims());
    await verifier({ replayStore: store }).verify(other.jws);
    await refused(verifier({ replayStore: store }).verify(other.jws), 'replayed');
  });

  it('an e-signature assertion is not a login when the verifier expects logins', async () => {
    const esign = await signerA.sign(
      loginClaims({
        tapgate: {
          ...loginClaims().tapgate,
          kind: 'esign',
          ceremonyId: 'c-1',
          reason: 'Edit equipment',
          signer: 1,
          signedAt: new Date(clock.now()).toISOString(),
        },
      }),
    );
    await refused(verifier({ kind: 'login' }).verify(esign.jws), 'wrong_kind');
    assert.equal((await verifier({ kind: 'esign' }).verify(esign.jws)).tapgate.reason, 'Edit equipment');
  });

  it('malformed input, other algorithms and other token types are refused', async () => {
    const v = verifier();
    await refused(v.verify('not a jws'), 'malformed');
    await refused(v.verify(''), 'malformed');
    await refused(v.verify(undefined as unknown as string), 'malformed');
    const jose = await loadJose();
    const now = Math.floor(clock.now() / 1000);
    const payload = { ...loginClaims(), iss: 'tapgate', iat: now, exp: now + 60, jti: 'j1' };
    const hs = await new jose.SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', kid: signerA.kid, typ: 'tapgate-assertion+jwt' })
      .sign(new Uint8Array(32));
    await refused(v.verify(hs), 'malformed');
    const noTyp = await new jose.SignJWT(payload)
      .setProtectedHeader({ alg: 'ES256', kid: signerA.kid })
      .sign(createPrivateKey(keyA.key));
    await refused(v.verify(noTyp), 'malformed'); // a valid signature by the right key, but not typed as ours
    const unsecured = new jose.UnsecuredJWT(payload).encode();
    await refused(v.verify(unsecured), 'malformed');
  });

  it('the signer refuses to sign claims outside the schema', async () => {
    await assert.rejects(signerA.sign(loginClaims({ sub: '' })), /without aud or sub/);
    await assert.rejects(
      signerA.sign({ ...loginClaims(), tapgate: { ...loginClaims().tapgate, terminalId: 'bad id!' } }),
      /refusing to sign invalid claims: tapgate\.terminalId/,
    );
  });

  it('an unreachable or broken JWKS refuses every assertion (jwks_unavailable)', async () => {
    const signed = await signerA.sign(loginClaims());
    jwks.fail(503);
    try {
      await refused(verifier().verify(signed.jws), 'jwks_unavailable');
      jwks.fail(undefined);
      jwks.publish({ nope: true });
      await refused(verifier().verify(signed.jws), 'jwks_unavailable');
      await refused(
        new AssertionVerifier({
          jwksUrl: 'http://127.0.0.1:1/jwks',
          audience: AUD,
          kind: 'login',
          now: clock.now,
        }).verify(signed.jws),
        'jwks_unavailable',
      );
    } finally {
      jwks.fail(undefined);
      jwks.publish(signerA.jwks());
    }
  });

  it('a cached JWKS past its age is not used when the refetch fails', async () => {
    const v = verifier({ maxAgeMs: 60_000 });
    await v.verify((await signerA.sign(loginClaims())).jws);
    jwks.fail(500);
    try {
      const next = await signerA.sign(loginClaims());
      await v.verify(next.jws); // still fresh: served from the cache, no fetch needed
      clock.advance(61_000);
      await refused(v.verify((await signerA.sign(loginClaims())).jws), 'jwks_unavailable');
    } finally {
      jwks.fail(undefined);
    }
  });
});

describe('MemoryReplayStore', () => {
  it('forgets ids once they have expired', () => {
    const clock = manualClock();
    const store = new MemoryReplayStore(clock.now);
    const exp = Math.floor(clock.now() / 1000) + 60;
    assert.equal(store.claim('a', exp), true);
    assert.equal(store.claim('a', exp), false);
    clock.advance(61_000);
    assert.equal(store.claim('b', exp + 120), true);
    assert.equal(store.size, 1, 'the expired id was swept');
  });
});
