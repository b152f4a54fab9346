/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- response bodies are read loosely; the assertions check their shape */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { UserStatusGet, type StatusAnswer } from '@tapgate/contracts';
import { gatewayBaseline } from '@tapgate/config';
import { connectMessaging, publishBaseline, type Messaging } from '@tapgate/messaging';
import { startNats, waitFor, type TestServer } from '@tapgate/testing';
import { SessionStore } from '../auth/session-store';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';
import { UserDetails } from '../users/users.service';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('policies API', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let peer: Messaging;
  const call = async (method: string, path: string, o: Parameters<PolicyHarness['api']>[2] = {}) => {
    const r = await policy.api(method, path, o);
    return { ...r, body: r.body as unknown as Body };
  };

  before(async () => {
    nats = await startNats();
    policy = await startPolicy(nats.url);
    // user-status on NATS, answering with groups (a NATS peer, not a mock of the policy service).
    peer = connectMessaging({ servers: [nats.url], name: 'user-status-peer' });
    peer.respond(UserStatusGet, async (q): Promise<StatusAnswer> => {
      const sam = 'sAMAccountName' in q.user ? q.user.sAMAccountName : 'x';
      if (sam === 'ghost') {
        return {
          v: 1,
          status: 'not_found',
          evidence: {},
          source: 'directory',
          checkedAt: new Date().toISOString(),
        };
      }
      return {
        v: 1,
        status: 'active',
        user: { sAMAccountName: sam, dn: `CN=${sam},CN=Users,DC=t` },
        evidence: {},
        source: 'directory',
        checkedAt: new Date().toISOString(),
        groups: sam === 'olga' ? ['CN=Line 3 Operators,CN=Users,DC=t', 'CN=Other,CN=Users,DC=t'] : [],
      };
    });
    await (await peer.connection()).flush();
  });

  after(async () => {
    await peer?.close();
    await policy?.close();
    await nats?.dispose();
  });

  it('creates, reads, updates, activates and deletes policies; a stale revision gets 409', async () => {
    const created = await call('POST', '/v1/policies', {
      body: {
        policyId: 'default',
        kind: 'default',
        name: 'Default group policy',
        settings: {
          activeDirectory: { checkUserStatus: true, cacheUserStatus: true, cacheExpirySeconds: 900 },
        },
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const rev = created.body.revision as number;
    assert.equal(created.headers.get('etag'), `"${rev}"`);

    const bad = await call('PUT', '/v1/policies/default', {
      body: { name: 'x', settings: { activeDirectory: { cacheExpirySeconds: 45 } } },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, 'settings.activeDirectory.cacheExpirySeconds');

    const upd = { name: 'Default', settings: { activeDirectory: { cacheExpirySeconds: 30 } } };
    const ok = await call('PUT', '/v1/policies/default', { body: upd, headers: { 'if-match': `"${rev}"` } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.settings.activeDirectory.cacheExpirySeconds, 30);
    // A second writer based on the old revision loses, and the first write is kept.
    const stale = await call('PUT', '/v1/policies/default', {
      body: { ...upd, settings: { activeDirectory: { cacheExpirySeconds: 60 } } },
      headers: { 'if-match': `"${rev}"` },
    });
    assert.equal(stale.status, 409);
    assert.equal(
      (await call('GET', '/v1/policies/default')).body.settings.activeDirectory.cacheExpirySeconds,
      30,
    );

    const g = await call('POST', '/v1/policies', {
      body: { policyId: 'line3', kind: 'group', name: 'Line 3', group: 'Line 3 Operators', settings: {} },
    });
    assert.equal(g.status, 201, JSON.stringify(g.body));
    const missingGroup = await call('POST', '/v1/policies', {
      body: { policyId: 'nogroup', kind: 'group', name: 'No group', settings: {} },
    });
    assert.equal(missingGroup.status, 400);
    assert.equal(missingGroup.body.error.field, 'group');
    const off = await call('POST', '/v1/policies/line3/deactivate');
    assert.equal(off.body.active, false);
    const list = await call('GET', '/v1/policies');
    assert.deepEqual(
      list.body.items.map((p: Body) => p.policyId),
      ['default', 'line3'],
    );
    assert.equal((await call('DELETE', '/v1/policies/line3')).status, 204);
    assert.equal((await call('GET', '/v1/policies/line3')).status, 404);
  });

  it('computes the effective policy: default < groups by priority < user, with an explanation', async () => {
    const mk = (body: Body) => call('POST', '/v1/policies', { body });
    assert.equal(
      (
        await mk({
          policyId: 'ops',
          kind: 'group',
          name: 'Ops',
          group: 'Line 3 Operators',
          priority: 1,
          settings: { tap: { requirePresence: true, allowUidTaps: true } },
        })
      ).status,
      201,
    );
    await mk({
      policyId: 'other',
      kind: 'group',
      name: 'Other',
      group: 'CN=Other,CN=Users,DC=t',
      priority: 5,
      settings: { tap: { allowUidTaps: false } },
    });
    await mk({
      policyId: 'olga',
      kind: 'user',
      name: 'Olga',
      user: 'olga',
      settings: { esign: { ceremonyTimeoutSeconds: 300 } },
    });
    const reserved = await mk({ policyId: 'inherited', kind: 'group', name: 'x', group: 'x', settings: {} });
    assert.equal(reserved.status, 400, 'an id that a route would shadow');
    const dup = await mk({ policyId: 'olga2', kind: 'user', name: 'Olga again', user: 'OLGA', settings: {} });
    assert.equal(dup.status, 409);

    const e = await call('GET', '/v1/policies/effective?user=olga');
    assert.equal(e.status, 200, JSON.stringify(e.body));
    assert.equal(e.body.groupsFrom, 'user-status');
    assert.equal(e.body.settings.tap.requirePresence, true);
    assert.equal(e.body.explain['tap.requirePresence'].policyId, 'ops');
    assert.equal(e.body.settings.tap.allowUidTaps, false, 'the higher-priority group wins');
    assert.equal(e.body.explain['tap.allowUidTaps'].policyId, 'other');
    assert.equal(e.body.settings.esign.ceremonyTimeoutSeconds, 300);
    assert.equal(e.body.explain['esign.ceremonyTimeoutSeconds'].kind, 'user');
    assert.equal(e.body.settings.activeDirectory.cacheExpirySeconds, 30);
    assert.equal(e.body.explain['activeDirectory.cacheExpirySeconds'].kind, 'default');
    assert.equal(e.body.explain['tap.allowBleTaps'].kind, 'baseline');
    assert.equal(e.body.explain['tap.allowBleTaps'].service, 'ws-gateway');

    // No gateway has reported: its fields are the configuration defaults, flagged as such.
    const unreported = await call('GET', '/v1/policies/effective?user=someone');
    assert.equal(unreported.body.settings.tap.requirePresence, true, '[gateway] require_presence default');
    assert.equal(unreported.body.explain['tap.requirePresence'].reported, false);
    assert.deepEqual(unreported.body.baseline.missing, ['user-status', 'ws-gateway']);

    // Two gateway replicas report what they run with; explain follows them, and names the key.
    const gw = (instance: string, requirePresence: boolean) =>
      publishBaseline(peer, {
        service: 'ws-gateway',
        instance,
        ...gatewayBaseline({
          allowBleTaps: true,
          allowUidTaps: false,
          requirePresence,
          esignTimeoutMs: 45_500,
        }),
      });
    const gw1 = gw('gw1', false);
    const explained = await waitFor(
      async () => {
        const r = await call('GET', '/v1/policies/effective?user=someone');
        return r.body.baseline.missing.includes('ws-gateway') ? undefined : r.body;
      },
      { what: 'the gateway baseline seen by the policy service' },
    );
    assert.equal(explained.settings.tap.requirePresence, false);
    assert.deepEqual(explained.explain['tap.requirePresence'], {
      kind: 'baseline',
      service: 'ws-gateway',
      key: '[gateway] require_presence',
      reported: true,
    });
    assert.equal(explained.settings.esign.ceremonyTimeoutSeconds, 45.5, "olga's own policy is not someone's");
    const inh = await call('GET', '/v1/policies/inherited');
    assert.equal(inh.status, 200);
    assert.equal(inh.body.baseline.settings.esign.ceremonyTimeoutSeconds, 45.5);
    assert.equal(inh.body.inherited.settings.activeDirectory.cacheExpirySeconds, 30, 'default policy');
    assert.equal(inh.body.inherited.explain['tap.requirePresence'].policyId, undefined);
    // A second replica configured differently: the disagreement is reported, not hidden.
    const gw2 = gw('gw2', true);
    let last: Body = {};
    await waitFor(
      async () => {
        last = (await call('GET', '/v1/policies/inherited')).body;
        return last.baseline.conflicts.length > 0;
      },
      { what: 'the conflict reported', timeoutMs: 3000 },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(last.baseline)}`);
    });
    await Promise.all([gw1.stop(), gw2.stop()]);
    assert.deepEqual((await call('GET', '/v1/policies/inherited')).body.baseline.missing, [
      'user-status',
      'ws-gateway',
    ]);
  });

  it('checks roles and CSRF on every route, and audits changes with before and after', async () => {
    assert.equal((await call('GET', '/v1/policies', { token: null })).status, 401);
    assert.equal((await call('GET', '/v1/policies', { token: 'not-a-session' })).status, 401);
    const sessions = new SessionStore(peer, 60_000);
    const viewer = await sessions.create('vera', 'viewer');
    assert.equal((await call('GET', '/v1/policies', { token: viewer.token })).status, 200);
    const write = await call('POST', '/v1/policies/ops/deactivate', { token: viewer.token });
    assert.equal(write.status, 403);
    assert.equal((await call('GET', '/v1/audit/admin', { token: viewer.token })).status, 200);

    // A cookie session must echo its CSRF token on changes.
    const admin = await sessions.create('adam', 'admin');
    const cookie = { cookie: `tapgate_session=${admin.token}` };
    assert.equal(
      (await call('POST', '/v1/policies/ops/deactivate', { token: null, headers: cookie })).status,
      403,
    );
    const withCsrf = await call('POST', '/v1/policies/ops/deactivate', {
      token: null,
      headers: { ...cookie, 'x-csrf-token': admin.session.csrf },
    });
    assert.equal(withCsrf.status, 200, JSON.stringify(withCsrf.body));
    const me = await call('GET', '/v1/auth/me', { token: null, headers: cookie });
    assert.equal(me.body.user, 'adam');
    assert.equal(me.body.csrfToken, admin.session.csrf);

    const audit = await call('GET', '/v1/audit/admin?action=policy.deactivate&target=ops');
    const rec = audit.body.items[0];
    assert.equal(rec.actor, 'adam');
    assert.equal(rec.via, 'session');
    assert.equal(rec.before.active, true);
    assert.equal(rec.after.active, false);
    // Logins need the directory; without [ldap] they answer 503, never a session.
    const login = await call('POST', '/v1/auth/login', {
      token: null,
      body: { username: 'adam', password: 'x' },
    });
    assert.equal(login.status, 503);
  });

  it('lists every validation problem at once, per field, in plain language', async () => {
    const res = await call('POST', '/v1/policies', {
      body: {
        policyId: 'bad one',
        kind: 'group',
        name: '',
        priority: 5000,
        colour: 'red',
        settings: { activeDirectory: { cacheExpirySeconds: 'soon' } },
      },
    });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    const errors = res.body.error.errors as Array<{ path: string; message: string }>;
    const byPath = new Map(errors.map((e) => [e.path, e.message]));
    for (const path of [
      'policyId',
      'name',
      'priority',
      'colour',
      'settings.activeDirectory.cacheExpirySeconds',
    ]) {
      assert.ok(byPath.has(path), `${path} missing from ${JSON.stringify(errors)}`);
    }
    assert.equal(byPath.get('name'), 'must not be empty');
    assert.equal(byPath.get('priority'), 'must be at most 1000');
    assert.equal(byPath.get('colour'), 'unknown field "colour"');
    assert.equal(byPath.get('settings.activeDirectory.cacheExpirySeconds'), 'must be a number');
    for (const e of errors) {
      assert.doesNotMatch(e.message, /Too (small|big)|Invalid input|expected/, e.message);
    }
    assert.equal(res.body.error.field, errors[0].path, 'the first problem is also error.field');
    assert.equal((await call('GET', '/v1/policies/bad one')).status, 400);
  });

  it('saves a user policy for a name the directory does not know, with a warning', async () => {
    const ghost = await call('POST', '/v1/policies', {
      body: { policyId: 'ghost-user', kind: 'user', name: 'Ghost', user: 'ghost', settings: {} },
    });
    assert.equal(ghost.status, 201, JSON.stringify(ghost.body));
    assert.equal(ghost.body.warnings.length, 1);
    assert.equal(ghost.body.warnings[0].path, 'user');
    assert.match(String(ghost.body.warnings[0].message), /directory has no user "ghost"/);
    const known = await call('POST', '/v1/policies', {
      body: { policyId: 'paula-user', kind: 'user', name: 'Paula', user: 'paula', settings: {} },
    });
    assert.equal(known.status, 201);
    assert.equal(known.body.warnings, undefined);
    const updated = await call('PUT', '/v1/policies/ghost-user', {
      body: { name: 'Ghost 2', user: 'ghost', settings: {} },
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.warnings[0].path, 'user');
    // Delete with If-Match: a stale revision is 409 and keeps the policy; the current one deletes it.
    const stale = await call('DELETE', '/v1/policies/ghost-user', {
      headers: { 'if-match': `"${ghost.body.revision}"` },
    });
    assert.equal(stale.status, 409);
    const gone = await call('DELETE', '/v1/policies/ghost-user', {
      headers: { 'if-match': `"${updated.body.revision}"` },
    });
    assert.equal(gone.status, 204);
    assert.equal((await call('DELETE', '/v1/policies/paula-user')).status, 204);
  });

  it("numbers each policy's revisions on its own and keeps its history", async () => {
    const a = await call('POST', '/v1/policies', {
      body: { policyId: 'rev-a', kind: 'group', name: 'A', group: 'CN=A,DC=t', settings: {} },
    });
    assert.equal(a.status, 201);
    assert.equal(a.body.policyRevision, 1);
    const b = await call('POST', '/v1/policies', {
      body: { policyId: 'rev-b', kind: 'group', name: 'B', group: 'CN=B,DC=t', settings: {} },
    });
    // Another policy's writes do not move this one's number (the KV revision does move).
    assert.equal(b.body.policyRevision, 1);
    assert.ok(b.body.revision > a.body.revision);
    const a2 = await call('PUT', '/v1/policies/rev-a', {
      body: { name: 'A2', group: 'CN=A,DC=t', settings: { tap: { allowUidTaps: false } } },
      headers: { 'if-match': `"${a.body.revision}"` },
    });
    assert.equal(a2.body.policyRevision, 2);
    const a3 = await call('POST', '/v1/policies/rev-a/deactivate');
    assert.equal(a3.body.policyRevision, 3);
    assert.equal((await call('GET', '/v1/policies/rev-a')).body.policyRevision, 3);
    const listed = (await call('GET', '/v1/policies')).body.items;
    assert.equal(listed.find((p: Body) => p.policyId === 'rev-a').policyRevision, 3);
    assert.equal(listed.find((p: Body) => p.policyId === 'rev-b').policyRevision, 1);

    const revs = await call('GET', '/v1/policies/rev-a/revisions');
    assert.equal(revs.status, 200);
    assert.deepEqual(
      revs.body.items.map((r: Body) => [r.number, r.action, r.revision, r.policy?.name]),
      [
        [3, 'policy.deactivate', a3.body.revision, 'A2'],
        [2, 'policy.update', a2.body.revision, 'A2'],
        [1, 'policy.create', a.body.revision, 'A'],
      ],
    );
    assert.equal(revs.body.items[1].policy.settings.tap.allowUidTaps, false);
    assert.equal(revs.body.items[2].policy.settings.tap, undefined);
    // Deleted: its history stays readable; created again, it starts again at 1.
    assert.equal((await call('DELETE', '/v1/policies/rev-a')).status, 204);
    const afterDelete = (await call('GET', '/v1/policies/rev-a/revisions')).body.items;
    assert.equal(afterDelete[0].action, 'policy.delete');
    assert.equal(afterDelete[0].number, 4);
    const again = await call('POST', '/v1/policies', {
      body: { policyId: 'rev-a', kind: 'group', name: 'A again', group: 'CN=A,DC=t', settings: {} },
    });
    assert.equal(again.body.policyRevision, 1);
    assert.equal((await call('GET', '/v1/policies/never-was/revisions')).status, 404);
    // Without [ldap] the group cannot be checked: saved, with a warning that says why.
    assert.equal(again.body.warnings[0].path, 'group');
    assert.match(again.body.warnings[0].message, /could not be checked \(no directory is configured/);
    for (const id of ['rev-a', 'rev-b']) {
      assert.equal((await call('DELETE', `/v1/policies/${id}`)).status, 204);
    }
  });

  it('shows a user: AD status with evidence and age, bands, effective policy; search needs a directory', async () => {
    const search = await call('GET', '/v1/users?q=ol');
    assert.equal(search.status, 503);
    assert.equal(search.body.error.code, 'directory_not_configured');
    const olga = await call('GET', '/v1/users/olga');
    assert.equal(olga.status, 200, JSON.stringify(olga.body));
    // The response is what the OpenAPI document's schema (the same zod schema) says.
    UserDetails.parse(olga.body);
    assert.equal(olga.body.directory.state, 'not_configured');
    assert.equal(olga.body.adStatus.status, 'active');
    assert.equal(olga.body.adStatus.source, 'directory');
    assert.equal(typeof olga.body.adStatus.ageSeconds, 'number');
    assert.deepEqual(olga.body.effectivePolicy.groups, [
      'CN=Line 3 Operators,CN=Users,DC=t',
      'CN=Other,CN=Users,DC=t',
    ]);
    assert.equal(olga.body.effectivePolicy.groupsFrom, 'user-status');
    assert.ok(olga.body.effectivePolicy.explain['activeDirectory.checkUserStatus']);
    assert.deepEqual(olga.body.bands, []);
    assert.ok(Array.isArray(olga.body.activity.items));
    // Read-only, but not public.
    assert.equal((await call('GET', '/v1/users/olga', { token: null })).status, 401);
  });

  it('serves the OpenAPI document and the console', async () => {
    const doc = await fetch(`${policy.url}/v1/openapi.json`);
    assert.equal(doc.status, 200);
    const body = (await doc.json()) as Body;
    assert.equal(body.openapi, '3.1.0');
    assert.ok(body.paths['/v1/policies/{policyId}'].put);
    // Generated from the controllers: the guard's roles, and the zod schemas the routes parse bodies with.
    assert.equal(body.paths['/v1/policies'].post.description, 'Role: admin.');
    assert.equal(body.paths['/v1/policies'].get.description, 'Role: viewer.');
    assert.deepEqual(body.paths['/v1/auth/bootstrap'].post.security, []);
    const create = body.paths['/v1/policies'].post.requestBody.content['application/json'].schema;
    assert.deepEqual(create.properties.kind.enum, ['default', 'group', 'user']);
    assert.equal(create.properties.priority.maximum, 1000);
    assert.equal(create.additionalProperties, false);
    assert.equal(body.components.schemas.Error.properties.error.properties.errors.type, 'array');
    // If-Match, query parameters and response schemas come from the same decorators and zod schemas.
    const names = (op: Body) => op.parameters.map((p: Body) => `${p.in}:${p.name}:${p.required}`);
    assert.ok(names(body.paths['/v1/policies/{policyId}'].put).includes('header:If-Match:false'));
    assert.ok(names(body.paths['/v1/enrollments/{bandId}'].delete).includes('header:If-Match:false'));
    assert.deepEqual(names(body.paths['/v1/users'].get), ['query:q:true', 'query:limit:false']);
    assert.equal(body.paths['/v1/users'].get.parameters[1].schema.maximum, 100);
    assert.ok(names(body.paths['/v1/policies/effective'].get).includes('query:user:true'));
    assert.ok(names(body.paths['/v1/audit/admin'].get).includes('query:limit:false'));
    assert.ok(names(body.paths['/v1/audit/export'].get).includes('query:format:false'));
    const revisions = body.paths['/v1/policies/{policyId}/revisions'].get.responses['200'];
    assert.equal(
      revisions.content['application/json'].schema.properties.items.items.properties.number.type,
      'integer',
    );
    assert.ok(body.paths['/v1/policies'].post.responses['201'].content['application/json'].schema);
    // Views are documented without the stored secrets' hashes.
    const terminal = JSON.stringify(body.paths['/v1/terminals/{terminalId}'].get.responses['200']);
    assert.match(terminal, /"terminalId"/);
    assert.doesNotMatch(terminal, /credentialSha256/);
    const app = JSON.stringify(body.paths['/v1/applications/{applicationId}'].get.responses['200']);
    assert.match(app, /"credentialId"/);
    assert.doesNotMatch(app, /credentialSha256/);
    const page = await fetch(`${policy.url}/console/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    // The built single-page app: its entry script is one of the files the policy service serves.
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await page.text());
    assert.ok(script, 'the console page loads its bundled script');
    const bundle = await fetch(`${policy.url}${script[1]}`);
    assert.equal(bundle.status, 200);
    assert.match(bundle.headers.get('content-type') ?? '', /javascript/);
  });
});
