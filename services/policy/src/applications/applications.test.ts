import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ApplicationRecord, KvBuckets } from '@tapgate/contracts';
import { connectMessaging, openBucket, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import type { KV } from 'nats';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

interface AppView {
  applicationId: string;
  displayName: string;
  enabled: boolean;
  terminals: string[];
  credentials: Array<{
    credentialId: string;
    created: { by: string; at: string };
    credentialSha256?: string;
  }>;
  revision: number;
}
interface Issued {
  application: AppView;
  credentialId: string;
  credential: string;
}

describe('applications API', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let reader: Messaging;
  let kv: KV;

  before(async () => {
    nats = await startNats();
    policy = await startPolicy(nats.url);
    reader = connectMessaging({ servers: [nats.url], name: 'test-reader' });
    kv = await openBucket(reader, KvBuckets.applications);
  });

  after(async () => {
    await policy?.close();
    await reader?.close();
    await nats?.dispose();
  });

  const call = async <T>(method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
    const res = await policy.api(method, path, { body, headers });
    return { status: res.status, body: res.body as unknown as T, headers: res.headers };
  };
  async function stored(id: string): Promise<{ text: string; record: ApplicationRecord } | undefined> {
    const e = await kv.get(id);
    if (!e || e.operation !== 'PUT') return undefined;
    return { text: e.string(), record: ApplicationRecord.parse(e.json()) };
  }

  it('creates an application, shows its credential once and stores only the SHA-256', async () => {
    const res = await call<Issued>('POST', '/v1/applications', {
      applicationId: 'pomsnet',
      displayName: 'POMSnet line 1',
      terminals: ['LINE1-*'],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('location'), '/v1/applications/pomsnet');
    assert.match(res.body.credential, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(res.body.application.credentials.length, 1);
    assert.equal(res.body.application.credentials[0].credentialSha256, undefined, 'no hash in the API');
    const s = await stored('pomsnet');
    assert.equal(s?.record.credentials[0].credentialSha256, sha256(res.body.credential));
    assert.equal(s?.text.includes(res.body.credential), false);
    const got = await call<AppView>('GET', '/v1/applications/pomsnet');
    assert.equal(JSON.stringify(got.body).includes(res.body.credential), false);
    assert.deepEqual(got.body.terminals, ['LINE1-*']);
    const list = await call<{ items: AppView[] }>('GET', '/v1/applications');
    assert.deepEqual(
      list.body.items.map((a) => a.applicationId),
      ['pomsnet'],
    );
  });

  it('rotates: adds a second credential, then revokes the first', async () => {
    const first = (await stored('pomsnet'))!.record.credentials[0];
    const added = await call<Issued>('POST', '/v1/applications/pomsnet/credentials');
    assert.equal(added.status, 201);
    assert.deepEqual(
      (await stored('pomsnet'))!.record.credentials.map((c) => c.credentialSha256),
      [first.credentialSha256, sha256(added.body.credential)],
    );
    const revoked = await call<AppView>(
      'DELETE',
      `/v1/applications/pomsnet/credentials/${first.credentialId}`,
    );
    assert.equal(revoked.status, 200);
    assert.deepEqual(
      revoked.body.credentials.map((c) => c.credentialId),
      [added.body.credentialId],
    );
    assert.equal(
      (await call('DELETE', `/v1/applications/pomsnet/credentials/${first.credentialId}`)).status,
      404,
    );
  });

  it('turns two credential additions based on the same revision into one success and one 409', async () => {
    const rev = String((await call<AppView>('GET', '/v1/applications/pomsnet')).body.revision);
    const before = (await stored('pomsnet'))!.record.credentials.length;
    const results = await Promise.all([
      call<Issued>('POST', '/v1/applications/pomsnet/credentials', undefined, { 'if-match': rev }),
      call<Issued>('POST', '/v1/applications/pomsnet/credentials', undefined, { 'if-match': rev }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409]);
    const winner = results.find((r) => r.status === 201)!;
    const after = (await stored('pomsnet'))!.record.credentials;
    assert.equal(after.length, before + 1);
    assert.equal(after.at(-1)?.credentialSha256, sha256(winner.body.credential));
    const revoke = await call('DELETE', `/v1/applications/pomsnet/credentials/${winner.body.credentialId}`);
    assert.equal(revoke.status, 200);
  });

  it('changes the scope, disables and enables, with If-Match', async () => {
    const cur = await call<AppView>('GET', '/v1/applications/pomsnet');
    const stale = String(cur.body.revision);
    const put = await call<AppView>(
      'PUT',
      '/v1/applications/pomsnet',
      { displayName: 'POMSnet', terminals: ['LINE1-ST4'] },
      { 'if-match': stale },
    );
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual((await stored('pomsnet'))?.record.terminals, ['LINE1-ST4']);
    const conflict = await call('POST', '/v1/applications/pomsnet/disable', undefined, { 'if-match': stale });
    assert.equal(conflict.status, 409);
    assert.equal((await call<AppView>('POST', '/v1/applications/pomsnet/disable')).body.enabled, false);
    assert.equal((await stored('pomsnet'))?.record.enabled, false);
    assert.equal((await call<AppView>('POST', '/v1/applications/pomsnet/enable')).body.enabled, true);
  });

  it('validates input and audits every change without secrets', async () => {
    for (const body of [
      { applicationId: 'bad id', displayName: 'x', terminals: ['T1'] },
      { applicationId: 'a2', displayName: 'x', terminals: [] },
      { applicationId: 'a2', displayName: 'x', terminals: ['LINE 1'] },
      { applicationId: 'a2', displayName: 'x', terminals: ['T1'], credentials: [] },
    ]) {
      assert.equal((await call('POST', '/v1/applications', body)).status, 400, JSON.stringify(body));
    }
    assert.equal(await stored('a2'), undefined);
    const dup = await call('POST', '/v1/applications', {
      applicationId: 'pomsnet',
      displayName: 'again',
      terminals: ['*'],
    });
    assert.equal(dup.status, 409);
    for (const [method, path] of [
      ['GET', '/v1/applications/nope'],
      ['POST', '/v1/applications/nope/credentials'],
      ['POST', '/v1/applications/nope/disable'],
      ['DELETE', '/v1/applications/nope'],
    ] as const) {
      assert.equal((await call(method, path)).status, 404, `${method} ${path}`);
    }
    const audit = await call<{ items: Array<{ action: string; after?: unknown }> }>(
      'GET',
      '/v1/audit/admin?target=application:pomsnet&limit=50',
    );
    const actions = audit.body.items.map((r) => r.action).reverse();
    assert.deepEqual(actions, [
      'application.create',
      'application.credential.add',
      'application.credential.revoke',
      'application.credential.add',
      'application.credential.revoke',
      'application.update',
      'application.disable',
      'application.enable',
    ]);
    assert.equal(JSON.stringify(audit.body).includes('credentialSha256'), false);
  });

  it('is described in the OpenAPI document, route by route', async () => {
    const doc = (await (await fetch(`${policy.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const ops = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/v1/applications'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(ops, [
      'DELETE /v1/applications/{applicationId}',
      'DELETE /v1/applications/{applicationId}/credentials/{credentialId}',
      'GET /v1/applications',
      'GET /v1/applications/{applicationId}',
      'POST /v1/applications',
      'POST /v1/applications/{applicationId}/credentials',
      'POST /v1/applications/{applicationId}/disable',
      'POST /v1/applications/{applicationId}/enable',
      'PUT /v1/applications/{applicationId}',
    ]);
  });

  it('refuses a fifth credential, then deletes the application', async () => {
    for (let i = 0; i < 3; i++) {
      assert.equal((await call('POST', '/v1/applications/pomsnet/credentials')).status, 201);
    }
    assert.equal((await call('POST', '/v1/applications/pomsnet/credentials')).status, 409);
    assert.equal((await call('DELETE', '/v1/applications/pomsnet')).status, 204);
    assert.equal(await stored('pomsnet'), undefined);
  });
});
