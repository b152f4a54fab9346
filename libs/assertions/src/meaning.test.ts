import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AssertionError, type AssertionFailure } from './errors';
import { AssertionSigner, type AssertionInput } from './signer';
import { loginClaims, manualClock, startJwksServer } from './test-helpers';
import { AssertionVerifier, type AssertionVerifierOptions } from './verifier';

const AUD = 'https://mes.example.com/NES';
const key = () => ({
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

/** One signature of a ceremony, as the gateway issues it. */
function esignClaims(
  signer: 1 | 2,
  sub: string,
  over: Partial<AssertionInput['tapgate']> & { nonce?: string } = {},
): AssertionInput {
  const { nonce, ...tapgate } = over;
  return {
    aud: AUD,
    sub,
    ...(nonce === undefined ? {} : { nonce }),
    tapgate: {
      kind: 'esign',
      terminalId: 'LINE1-T04',
      tapId: `tap-${signer}`,
      status: 'active',
      ceremonyId: 'c-42',
      reason: 'Approve batch 7',
      signer,
      signedAt: '2026-11-29T16:31:40.000Z',
      secondSignerRequired: true,
      recordHash: 'sha256:batch-7',
      ...tapgate,
    },
  };
}

describe('assertions mean one thing: kind, nonce, record, clock, ceremony', () => {
  const clock = manualClock();
  const signingKey = key();
  const signer = new AssertionSigner({ signingKeys: [signingKey], now: clock.now });
  let jwks: Awaited<ReturnType<typeof startJwksServer>>;
  const verifier = (kind: 'login' | 'esign', opts: Partial<AssertionVerifierOptions> = {}) =>
    new AssertionVerifier({ jwksUrl: jwks.url, audience: AUD, kind, now: clock.now, ...opts });
  /** A signed two-signer ceremony: signer 1, then signer 2 linked to signer 1's jti. */
  const ceremony = async (
    one: Parameters<typeof esignClaims>[2] = {},
    two: Parameters<typeof esignClaims>[2] = {},
    subs: [string, string] = ['alice', 'erin'],
  ) => {
    const s1 = await signer.sign(esignClaims(1, subs[0], one));
    const s2 = await signer.sign(esignClaims(2, subs[1], { firstSignature: s1.jti, ...two }));
    return [s1.jws, s2.jws];
  };

  before(async () => {
    jwks = await startJwksServer(signer.jwks());
  });
  after(() => jwks.close());

  it('a verifier without a kind, or with an unbounded tolerance or lifetime, cannot be built', async () => {
    const base = { jwksUrl: 'http://127.0.0.1:1/jwks', audience: AUD };
    assert.throws(() => new AssertionVerifier(base as AssertionVerifierOptions), TypeError);
    assert.throws(() => new AssertionVerifier({ ...base, kind: 'both' as 'login' }), TypeError);
    for (const clockToleranceSeconds of [61, 3600, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new AssertionVerifier({ ...base, kind: 'login', clockToleranceSeconds }),
        TypeError,
      );
    }
    assert.throws(
      () => new AssertionVerifier({ ...base, kind: 'login', maxLifetimeSeconds: 601 }),
      TypeError,
    );
    assert.ok(new AssertionVerifier({ ...base, kind: 'esign', clockToleranceSeconds: 60 }));
    await assert.rejects(
      verifier('login').verifyCeremony([]),
      TypeError,
      'ceremonies need an esign verifier',
    );
  });

  it('an e-signature never passes as a login, nor a login as an e-signature (wrong_kind)', async () => {
    const [esign] = await ceremony();
    const login = (await signer.sign(loginClaims())).jws;
    await refused(verifier('login').verify(esign), 'wrong_kind');
    await refused(verifier('esign').verify(login), 'wrong_kind');
    // Refusals do not use up the jti: each verifies once with the right kind.
    assert.equal((await verifier('esign').verify(esign)).tapgate.signer, 1);
    assert.equal((await verifier('login').verify(login)).sub, 'alice');
  });

  it('a relying party whose clock runs behind refuses an iat in its future (not_yet_valid)', async () => {
    const ahead = new AssertionSigner({ signingKeys: [signingKey], now: () => clock.now() + 120_000 });
    await refused(verifier('login').verify((await ahead.sign(loginClaims())).jws), 'not_yet_valid');
    // Within the tolerance (5 s by default) it passes.
    const slightly = new AssertionSigner({ signingKeys: [signingKey], now: () => clock.now() + 4_000 });
    assert.equal((await verifier('login').verify((await slightly.sign(loginClaims())).jws)).sub, 'alice');
  });

  it('an assertion that lives longer than the maximum is refused (too_long_lived)', async () => {
    const longLived = new AssertionSigner({ signingKeys: [signingKey], now: clock.now, ttlSeconds: 3_600 });
    await refused(verifier('login').verify((await longLived.sign(loginClaims())).jws), 'too_long_lived');
    const normal = (await signer.sign(loginClaims())).jws; // 60 s
    await refused(verifier('login', { maxLifetimeSeconds: 30 }).verify(normal), 'too_long_lived');
  });

  it("the relying party's nonce and record hash are checked when it passes them", async () => {
    const login = (await signer.sign(loginClaims({ nonce: 'n-page-1' }))).jws;
    await refused(verifier('login').verify(login, { nonce: 'n-page-2' }), 'wrong_nonce');
    const noNonce = (await signer.sign(loginClaims())).jws;
    await refused(verifier('login').verify(noNonce, { nonce: 'n-page-1' }), 'wrong_nonce');
    assert.equal((await verifier('login').verify(login, { nonce: 'n-page-1' })).nonce, 'n-page-1');

    const [esign] = await ceremony();
    await refused(verifier('esign').verify(esign, { recordHash: 'sha256:batch-8' }), 'wrong_record');
    assert.equal(
      (await verifier('esign').verify(esign, { recordHash: 'sha256:batch-7' })).tapgate.recordHash,
      'sha256:batch-7',
    );
  });

  it('verifyCeremony accepts one whole ceremony: two people, in order, linked, same record', async () => {
    const v = verifier('esign');
    const set = await ceremony({ nonce: 'n-c42' }, { nonce: 'n-c42' });
    const checked = await v.verifyCeremony(set, {
      ceremonyId: 'c-42',
      nonce: 'n-c42',
      recordHash: 'sha256:batch-7',
    });
    assert.deepEqual(
      checked.signatures.map((c) => [c.tapgate.signer, c.sub]),
      [
        [1, 'alice'],
        [2, 'erin'],
      ],
    );
    assert.equal(checked.secondSignerRequired, true);
    assert.equal(checked.signatures[1].tapgate.firstSignature, checked.signatures[0].jti);
    await refused(v.verifyCeremony(set), 'replayed');
    // A one-signer ceremony is one signature that says so.
    const single = await signer.sign(esignClaims(1, 'alice', { secondSignerRequired: false }));
    assert.equal((await v.verifyCeremony([single.jws])).signatures.length, 1);
  });

  it('verifyCeremony refuses every set that is not one whole ceremony, without using up its jtis', async () => {
    const v = verifier('esign');
    const cases: Array<[string, Promise<string[]>, AssertionFailure]> = [
      ['one person signs twice', ceremony({}, {}, ['alice', 'alice']), 'same_signer'],
      ['signer 2 without the link', ceremony({}, { firstSignature: undefined }), 'wrong_ceremony'],
      [
        'signer 2 linked to another signature',
        ceremony({}, { firstSignature: 'another-jti' }),
        'wrong_ceremony',
      ],
      ['two ceremonies', ceremony({}, { ceremonyId: 'c-43' }), 'wrong_ceremony'],
      ['two records', ceremony({}, { recordHash: 'sha256:batch-8' }), 'wrong_record'],
      ['disagreeing on the second signer', ceremony({}, { secondSignerRequired: false }), 'wrong_ceremony'],
      ['signer numbers 1, 1', ceremony({}, { signer: 1 }), 'wrong_ceremony'],
      ['in the wrong order', ceremony().then(([a, b]) => [b, a]), 'wrong_ceremony'],
      ['one signature where two are required', ceremony().then(([a]) => [a]), 'wrong_ceremony'],
      [
        'two signatures where one is required',
        ceremony({ secondSignerRequired: false }, { secondSignerRequired: false }),
        'wrong_ceremony',
      ],
      [
        'not saying whether two were required',
        ceremony({ secondSignerRequired: undefined }),
        'wrong_ceremony',
      ],
      [
        'a login among them',
        signer.sign(loginClaims()).then(async (l) => [(await ceremony())[0], l.jws]),
        'wrong_kind',
      ],
      ['three signatures', ceremony().then(([a, b]) => [a, b, b]), 'wrong_ceremony'],
    ];
    for (const [what, set, reason] of cases) {
      const jwsList = await set;
      await assert.rejects(
        v.verifyCeremony(jwsList),
        (e: unknown) => e instanceof AssertionError && e.reason === reason,
        what,
      );
    }
    const good = await ceremony();
    await refused(v.verifyCeremony(good, { ceremonyId: 'c-99' }), 'wrong_ceremony');
    await refused(v.verifyCeremony(good, { recordHash: 'sha256:other' }), 'wrong_record');
    await refused(v.verifyCeremony(good, { nonce: 'n-other' }), 'wrong_nonce');
    assert.equal((await v.verifyCeremony(good, { ceremonyId: 'c-42' })).ceremonyId, 'c-42');
  });
});
