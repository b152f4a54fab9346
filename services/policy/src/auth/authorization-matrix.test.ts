import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { startNats, type TestServer } from '@tapgate/testing';
import { openApiDocument } from '../admin/openapi';
import { startPolicy, startUserStatusDouble, type PolicyHarness } from '../testing/policy-harness';
import { SessionStore } from './session-store';

/**
 * Every route of the API, tried as an attacker would: without a token, with a forged one, as a viewer
 * on every change, and with a cookie session that does not echo its CSRF token. The rule is written here
 * on its own, not read from the routes' metadata: reads need a viewer, changes need an administrator,
 * and the only exceptions are the two lists below. A new public route or a new change a viewer may make
 * fails this test until it is added to a list, which is the review.
 */
const PUBLIC = new Set([
  'GET /healthz',
  'GET /readyz',
  'GET /metrics',
  'POST /v1/auth/login',
  'POST /v1/auth/bootstrap',
  'POST /v1/auth/token-login',
  'GET /v1/auth/methods',
]);
/** Changes a viewer may make: only to their own session. */
const VIEWER_CHANGES = new Set(['POST /v1/auth/logout']);

interface Operation {
  method: string;
  path: string;
  /** The path with every parameter filled in with a plausible value. */
  url: string;
  public: boolean;
}

async function operations(): Promise<Operation[]> {
  const doc = await openApiDocument();
  const out: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, { security?: unknown[] }>)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      out.push({
        method: method.toUpperCase(),
        path,
        url: path.replace(/\{[^}]+\}/g, 'T-AUTHZ-1'),
        public: Array.isArray(op.security) && op.security.length === 0,
      });
    }
  }
  return out;
}

const key = (op: Operation) => `${op.method} ${op.path}`;
/** An empty JSON object on changes (so a refusal cannot be a body error first); reads carry none. */
const emptyBody = (op: Operation) => (op.method === 'GET' ? undefined : {});

describe('authorization of every policy API route', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let peer: Messaging;
  let userStatus: ReturnType<typeof startUserStatusDouble>;
  let all: Operation[];
  let viewerToken: string;
  let adminCookie: string;

  before(async () => {
    nats = await startNats();
    userStatus = startUserStatusDouble(nats.url);
    await userStatus.ready();
    policy = await startPolicy(nats.url);
    peer = connectMessaging({ servers: [nats.url], name: 'authz-test' });
    const sessions = new SessionStore(peer, 60_000);
    viewerToken = (await sessions.create('vera', 'viewer')).token;
    adminCookie = `tapgate_session=${(await sessions.create('adam', 'admin')).token}`;
    all = await operations();
  });

  after(async () => {
    await peer?.close();
    await policy?.close();
    await userStatus?.stop();
    await nats?.dispose();
  });

  it('has exactly the reviewed public routes', () => {
    assert.ok(all.length >= 40, `only ${all.length} operations in the OpenAPI document`);
    assert.deepEqual(
      all
        .filter((op) => op.public)
        .map(key)
        .sort(),
      [...PUBLIC].sort(),
    );
  });

  it('refuses every other route without a token and with a forged one (401)', async () => {
    for (const op of all.filter((o) => !o.public)) {
      for (const token of [null, 'forged-session-token', `${viewerToken.slice(0, -2)}xx`]) {
        const res = await policy.api(op.method, op.url, { token, body: emptyBody(op) });
        assert.equal(res.status, 401, `${key(op)} with token ${String(token)} -> ${res.status}`);
      }
    }
  });

  it('refuses every change to a viewer (403) and lets a viewer read', async () => {
    let changes = 0;
    // Logging out (a viewer's own change) ends the session, so it comes last, below.
    for (const op of all.filter((o) => !o.public && !VIEWER_CHANGES.has(key(o)))) {
      const res = await policy.api(op.method, op.url, { token: viewerToken, body: emptyBody(op) });
      if (op.method === 'GET') {
        assert.ok(res.status !== 401 && res.status !== 403, `${key(op)} as viewer -> ${res.status}`);
      } else {
        changes++;
        assert.equal(res.status, 403, `${key(op)} as viewer -> ${res.status}`);
        assert.equal((res.body as { error?: { code?: string } }).error?.code, 'forbidden', key(op));
      }
    }
    // Among them: opening an enrollment session, which would let a viewer bind a band to any account.
    assert.ok(changes >= 25, `only ${changes} changes checked`);
    const open = await policy.api('POST', '/v1/enrollment-sessions', {
      token: viewerToken,
      body: { user: 'alice', terminalId: 'T-AUTHZ-1' },
    });
    assert.equal(open.status, 403);
    for (const change of VIEWER_CHANGES) {
      const [method = '', path = ''] = change.split(' ');
      const res = await policy.api(method, path, { token: viewerToken, body: {} });
      assert.ok(res.status < 300, `${change} as viewer -> ${res.status}`);
    }
    assert.equal((await policy.api('GET', '/v1/auth/me', { token: viewerToken })).status, 401);
  });

  it('refuses every change made with an administrator cookie that does not echo its CSRF token', async () => {
    for (const op of all.filter((o) => !o.public && o.method !== 'GET')) {
      const res = await policy.api(op.method, op.url, {
        token: null,
        headers: { cookie: adminCookie },
        body: {},
      });
      assert.equal(res.status, 403, `${key(op)} with a cookie and no CSRF token -> ${res.status}`);
    }
  });
});
