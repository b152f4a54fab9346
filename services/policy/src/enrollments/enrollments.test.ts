import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  exportBandPublicKeyJwk,
  exportBandPublicKeyPem,
  exportBandPublicKeyRaw,
  generateBandKeyPair,
} from '@tapgate/band';
import { EnrollmentRecord, KvBuckets } from '@tapgate/contracts';
import { connectMessaging, openBucket, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import type { KV } from 'nats';
import {
  TEST_BASE_DN,
  startPolicy,
  startUserStatusDouble,
  type PolicyHarness,
} from '../testing/policy-harness';

const newKey = () => generateBandKeyPair().publicKey;

describe('enrollments API', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let userStatus: ReturnType<typeof startUserStatusDouble>;
  let reader: Messaging;
  let kv: KV;

  before(async () => {
    nats = await startNats();
    userStatus = startUserStatusDouble(nats.url, { unknown: ['ghost'], unavailable: ['ldapdown'] });
    await userStatus.ready();
    policy = await startPolicy(nats.url, { adminName: 'break-glass-admin' });
    reader = connectMessaging({ servers: [nats.url], name: 'test-reader' });
    kv = await openBucket(reader, KvBuckets.enrollments);
  });

  after(async () => {
    await policy?.close();
    await userStatus?.stop();
    await reader?.close();
    await nats?.dispose();
  });

  const enroll = (bandId: string, user: string, publicKey: unknown) =>
    policy.api('POST', '/v1/enrollments', { body: { bandId, user: { sAMAccountName: user }, publicKey } });

  async function storedRecord(bandId: string): Promise<EnrollmentRecord | undefined> {
    const e = await kv.get(bandId);
    if (!e || e.operation !== 'PUT') return undefined;
    return EnrollmentRecord.parse(e.json());
  }

  it('enrolls a band with a PEM key and stores a contract-valid record with the directory user', async () => {
    const key = newKey();
    const res = await enroll('band-pem', 'Alice', exportBandPublicKeyPem(key));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.bandId, 'band-pem');
    const { objectGUID, ...names } = res.body.user;
    assert.deepEqual(names, {
      sAMAccountName: 'alice',
      dn: `CN=alice,${TEST_BASE_DN}`,
      displayName: 'User alice',
    });
    // Bound to the directory object user-status named (the double's stable GUID for alice).
    assert.match(objectGUID ?? '', /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/);
    assert.deepEqual(res.body.publicKey, exportBandPublicKeyJwk(key));
    assert.equal(res.body.active, true);
    assert.equal(res.body.created.by, 'break-glass-admin');
    assert.equal(res.body.updated.at, res.body.created.at);
    assert.equal(res.headers.get('etag'), `"${res.body.revision}"`);
    assert.equal(res.headers.get('location'), '/v1/enrollments/band-pem');

    const stored = await storedRecord('band-pem');
    const { revision: _r, ...record } = res.body as EnrollmentRecord & { revision: number };
    assert.deepEqual(stored, record);

    const got = await policy.api('GET', '/v1/enrollments/band-pem');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body, res.body);
  });

  it('accepts a base64url raw point and a JWK, storing both as the same JWK form', async () => {
    const k1 = newKey();
    const raw = await enroll('band-raw', 'bob', exportBandPublicKeyRaw(k1));
    assert.equal(raw.status, 201, JSON.stringify(raw.body));
    assert.deepEqual(raw.body.publicKey, exportBandPublicKeyJwk(k1));
    const k2 = newKey();
    const jwk = await enroll('band-jwk', 'bob', exportBandPublicKeyJwk(k2));
    assert.equal(jwk.status, 201, JSON.stringify(jwk.body));
    assert.deepEqual((await storedRecord('band-jwk'))?.publicKey, exportBandPublicKeyJwk(k2));
  });

  it('lists by user (case-insensitively), by band, both, and all', async () => {
    const byUser = await policy.api('GET', '/v1/enrollments?user=BOB');
    assert.equal(byUser.status, 200);
    assert.deepEqual(
      byUser.body.items.map((e) => e.bandId),
      ['band-jwk', 'band-raw'],
    );
    const byBand = await policy.api('GET', '/v1/enrollments?band=band-pem');
    assert.deepEqual(
      byBand.body.items.map((e) => e.user.sAMAccountName),
      ['alice'],
    );
    const both = await policy.api('GET', '/v1/enrollments?band=band-pem&user=bob');
    assert.deepEqual(both.body.items, []);
    const none = await policy.api('GET', '/v1/enrollments?band=no-such-band');
    assert.deepEqual(none.body.items, []);
    const all = await policy.api('GET', '/v1/enrollments');
    const ids = all.body.items.map((e) => e.bandId);
    for (const id of ['band-pem', 'band-raw', 'band-jwk']) assert.ok(ids.includes(id), id);
    for (const item of all.body.items) assert.equal(typeof item.revision, 'number');
    const bad = await policy.api('GET', '/v1/enrollments?colour=red');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'colour');
  });

  it('suspends and reactivates, recording who and when; repeating is a no-op', async () => {
    const before = await policy.api('GET', '/v1/enrollments/band-pem');
    const s = await policy.api('POST', '/v1/enrollments/band-pem/suspend');
    assert.equal(s.status, 200, JSON.stringify(s.body));
    assert.equal(s.body.active, false);
    assert.equal(s.body.updated.by, 'break-glass-admin');
    assert.ok(s.body.revision > before.body.revision);
    assert.ok(Date.parse(s.body.updated.at) >= Date.parse(before.body.updated.at));
    assert.equal((await storedRecord('band-pem'))?.active, false);

    const again = await policy.api('POST', '/v1/enrollments/band-pem/suspend');
    assert.equal(again.status, 200);
    assert.equal(again.body.revision, s.body.revision);

    const r = await policy.api('POST', '/v1/enrollments/band-pem/reactivate');
    assert.equal(r.status, 200);
    assert.equal(r.body.active, true);
    assert.equal((await storedRecord('band-pem'))?.active, true);
  });

  it('re-keys a band', async () => {
    const key = newKey();
    const res = await policy.api('PUT', '/v1/enrollments/band-raw/key', {
      body: { publicKey: exportBandPublicKeyPem(key) },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.publicKey, exportBandPublicKeyJwk(key));
    assert.deepEqual((await storedRecord('band-raw'))?.publicKey, exportBandPublicKeyJwk(key));
    const bad = await policy.api('PUT', '/v1/enrollments/band-raw/key', { body: { publicKey: 'not-a-key' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'publicKey');
    assert.deepEqual((await storedRecord('band-raw'))?.publicKey, exportBandPublicKeyJwk(key));
  });

  it('deletes a band; it is gone and can be enrolled again', async () => {
    const del = await policy.api('DELETE', '/v1/enrollments/band-jwk');
    assert.equal(del.status, 204);
    assert.equal((await policy.api('GET', '/v1/enrollments/band-jwk')).status, 404);
    assert.equal(await storedRecord('band-jwk'), undefined);
    assert.equal((await policy.api('DELETE', '/v1/enrollments/band-jwk')).status, 404);
    const again = await enroll('band-jwk', 'carol', exportBandPublicKeyJwk(newKey()));
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.user.sAMAccountName, 'carol');
  });

  it('answers 404 for a band that is not enrolled', async () => {
    for (const [method, path] of [
      ['GET', '/v1/enrollments/nope'],
      ['POST', '/v1/enrollments/nope/suspend'],
      ['POST', '/v1/enrollments/nope/reactivate'],
      ['DELETE', '/v1/enrollments/nope'],
    ] as const) {
      const res = await policy.api(method, path);
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.equal(res.body.error.code, 'not_found');
    }
  });

  it('accepts a JWK pasted as text, and the whole line `endpoint-node band new` prints', async () => {
    const k1 = newKey();
    const text = await enroll('band-jwk-text', 'bob', JSON.stringify(exportBandPublicKeyJwk(k1)));
    assert.equal(text.status, 201, JSON.stringify(text.body));
    assert.deepEqual((await storedRecord('band-jwk-text'))?.publicKey, exportBandPublicKeyJwk(k1));
    const k2 = newKey();
    const line = JSON.stringify({ bandId: 'band-new-line', publicKey: exportBandPublicKeyJwk(k2) });
    const printed = await enroll('band-new-line', 'bob', line);
    assert.equal(printed.status, 201, JSON.stringify(printed.body));
    assert.deepEqual((await storedRecord('band-new-line'))?.publicKey, exportBandPublicKeyJwk(k2));
    // A refusal names every accepted form, so whoever pasted the wrong thing knows what to paste.
    const bad = await enroll('band-bad-text', 'bob', 'garbage!');
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /accepted: a JWK \(object or JSON text.*PEM.*base64url/);
  });

  it('rejects malformed keys with 400 on field publicKey', async () => {
    const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    const raw = exportBandPublicKeyRaw(newKey());
    const jwk = exportBandPublicKeyJwk(newKey());
    const cases: unknown[] = [
      'garbage!',
      'AAAA',
      raw.slice(0, 40),
      `${raw.slice(0, -2)}AA`, // off the curve
      privatePem,
      '-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----',
      { ...jwk, x: jwk.y.replace(/^./, jwk.y[0] === 'A' ? 'B' : 'A') },
      { ...jwk, d: jwk.x },
      42,
      ['array'],
      undefined,
    ];
    for (const [i, publicKey] of cases.entries()) {
      const res = await enroll(`bad-key-${i}`, 'dave', publicKey);
      assert.equal(res.status, 400, `case ${i}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'invalid_public_key', `case ${i}`);
      assert.equal(res.body.error.field, 'publicKey', `case ${i}`);
      assert.equal(await storedRecord(`bad-key-${i}`), undefined);
    }
  });

  it('rejects keys that are not P-256 with 400 on field publicKey', async () => {
    const spki = (k: ReturnType<typeof generateKeyPairSync>['publicKey']) =>
      k.export({ format: 'pem', type: 'spki' }).toString();
    const cases: unknown[] = [
      spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey),
      spki(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey),
      spki(generateKeyPairSync('ed25519').publicKey),
      spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey),
      generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' }),
    ];
    for (const [i, publicKey] of cases.entries()) {
      const res = await enroll(`curve-${i}`, 'dave', publicKey);
      assert.equal(res.status, 400, `case ${i}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.field, 'publicKey', `case ${i}`);
      assert.match(res.body.error.message, /P-256/, `case ${i}`);
    }
  });

  it('refuses a duplicate band with 409 and keeps the first enrollment', async () => {
    const first = await storedRecord('band-pem');
    const res = await enroll('band-pem', 'mallory', exportBandPublicKeyJwk(newKey()));
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'conflict');
    assert.equal(res.body.error.field, 'bandId');
    assert.deepEqual(await storedRecord('band-pem'), first);
  });

  it('refuses two concurrent enrollments of one band: exactly one wins', async () => {
    const results = await Promise.all(
      ['erin', 'frank', 'grace'].map((u) => enroll('band-race', u, exportBandPublicKeyJwk(newKey()))),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409]);
    const winner = results.find((r) => r.status === 201)!;
    assert.equal((await storedRecord('band-race'))?.user.sAMAccountName, winner.body.user.sAMAccountName);
  });

  it('refuses an unknown user with 422 and stores nothing', async () => {
    const res = await enroll('band-ghost', 'ghost', exportBandPublicKeyJwk(newKey()));
    assert.equal(res.status, 422);
    assert.equal(res.body.error.code, 'unknown_user');
    assert.equal(res.body.error.field, 'user.sAMAccountName');
    assert.equal(await storedRecord('band-ghost'), undefined);
  });

  it('answers 503 when user-status cannot reach the directory', async () => {
    const res = await enroll('band-ldap', 'ldapdown', exportBandPublicKeyJwk(newKey()));
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'user_status_unavailable');
    assert.equal(await storedRecord('band-ldap'), undefined);
  });

  it('rejects invalid requests with 400 naming the field', async () => {
    const jwk = exportBandPublicKeyJwk(newKey());
    const cases: Array<[unknown, string]> = [
      [{ bandId: 'has space', user: { sAMAccountName: 'a' }, publicKey: jwk }, 'bandId'],
      [{ user: { sAMAccountName: 'a' }, publicKey: jwk }, 'bandId'],
      [{ bandId: 'b1', user: { sAMAccountName: 'a/b' }, publicKey: jwk }, 'user.sAMAccountName'],
      [{ bandId: 'b1', user: {}, publicKey: jwk }, 'user.sAMAccountName'],
      [{ bandId: 'b1', user: { sAMAccountName: 'a', dn: 'CN=x' }, publicKey: jwk }, 'user.dn'],
      [{ bandId: 'b1', user: { sAMAccountName: 'a' }, publicKey: jwk, active: false }, 'active'],
    ];
    for (const [body, field] of cases) {
      const res = await policy.api('POST', '/v1/enrollments', { body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 'invalid_request');
      assert.equal(res.body.error.field, field, JSON.stringify(res.body));
    }
    const notJson = await policy.api('POST', '/v1/enrollments', { rawBody: '{"bandId": ' });
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'invalid_request');
    const huge = await policy.api('POST', '/v1/enrollments', {
      body: { bandId: 'b1', pad: 'x'.repeat(100_000) },
    });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'invalid_request');
    const array = await policy.api('POST', '/v1/enrollments', { body: [1, 2] });
    assert.equal(array.status, 400);
    const badId = await policy.api('GET', '/v1/enrollments/a.b');
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.field, 'bandId');
    const route = await policy.api('GET', '/v1/nothing-here');
    assert.equal(route.status, 404);
    assert.equal(route.body.error.code, 'not_found');
  });

  it('turns two updates based on the same revision into one success and one 409', async () => {
    const created = await enroll('band-cas', 'heidi', exportBandPublicKeyJwk(newKey()));
    assert.equal(created.status, 201);
    const revision = String(created.body.revision);
    const k1 = exportBandPublicKeyJwk(newKey());
    const k2 = exportBandPublicKeyJwk(newKey());

    const first = await policy.api('PUT', '/v1/enrollments/band-cas/key', {
      body: { publicKey: k1 },
      headers: { 'if-match': `"${revision}"` },
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await policy.api('POST', '/v1/enrollments/band-cas/suspend', {
      headers: { 'if-match': revision },
    });
    assert.equal(second.status, 409);
    assert.equal(second.body.error.code, 'conflict');
    const stored = await storedRecord('band-cas');
    assert.deepEqual(stored?.publicKey, k1);
    assert.equal(stored?.active, true);

    // Both in flight at once, both based on the same (now current) revision.
    const rev = String(first.body.revision);
    const results = await Promise.all([
      policy.api('PUT', '/v1/enrollments/band-cas/key', {
        body: { publicKey: k2 },
        headers: { 'if-match': rev },
      }),
      policy.api('POST', '/v1/enrollments/band-cas/suspend', { headers: { 'if-match': rev } }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409]);

    const staleDelete = await policy.api('DELETE', '/v1/enrollments/band-cas', {
      headers: { 'if-match': rev },
    });
    assert.equal(staleDelete.status, 409);
    assert.ok(await storedRecord('band-cas'));
    const badHeader = await policy.api('POST', '/v1/enrollments/band-cas/suspend', {
      headers: { 'if-match': 'yesterday' },
    });
    assert.equal(badHeader.status, 400);
    assert.equal(badHeader.body.error.field, 'If-Match');
  });

  it('answers 503 (fail closed) while user-status is not running, and stores nothing', async () => {
    await userStatus.stop();
    const res = await enroll('band-nous', 'ivan', exportBandPublicKeyJwk(newKey()));
    assert.equal(res.status, 503);
    assert.equal(res.body.error.code, 'user_status_unavailable');
    assert.match(res.body.error.message, /cannot verify user/);
    assert.equal(await storedRecord('band-nous'), undefined);
  });

  it('with allow_unverified_enrollment, enrolls anyway and marks the DN unverified', async () => {
    const lenient = await startPolicy(nats.url, { allowUnverified: true, adminName: 'demo-admin' });
    try {
      const res = await lenient.api('POST', '/v1/enrollments', {
        body: {
          bandId: 'band-unverified',
          user: { sAMAccountName: 'ivan' },
          publicKey: exportBandPublicKeyJwk(newKey()),
        },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      assert.deepEqual(res.body.user, { sAMAccountName: 'ivan', dn: 'unverified:ivan' });
      assert.equal(res.body.created.by, 'demo-admin');
    } finally {
      await lenient.close();
    }
  });
});
