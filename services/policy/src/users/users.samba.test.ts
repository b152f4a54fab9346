/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument -- response bodies are read loosely; the assertions check their shape */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change } from 'ldapts';
import {
  createGroupMember,
  freePort,
  sambaLdapSettings,
  startNats,
  startSambaAd,
  type SambaAd,
  type TestServer,
} from '@tapgate/testing';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';
import { DirectorySearchResult } from './directory-search';
import { UserDetails } from './users.service';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The Users page's directory search and a user's details against a real Samba AD (LDAPS, service account),
 * and the group check on saving a group policy.
 */
describe('directory search and user details (Samba AD)', () => {
  let nats: TestServer;
  let samba: SambaAd;
  let policy: PolicyHarness;
  const call = async (method: string, path: string, o: Parameters<PolicyHarness['api']>[2] = {}) => {
    const r = await policy.api(method, path, o);
    return { ...r, body: r.body as unknown as Body };
  };

  before(async () => {
    nats = await startNats();
    samba = await startSambaAd();
    await createGroupMember(samba, 'Search Line 7', 'srchann', 'Searchable Ann');
    await samba.createUser('srchbob', { displayName: 'Searchable Bob', disabled: true });
    await samba.createUser('srchcat', { displayName: 'Cat Searchable' });
    await samba.createUser('srchstar', { displayName: 'Srch*Star' });
    await samba.asAdmin((c) =>
      c.modify(
        samba.userDn('srchcat'),
        new Change({
          operation: 'add',
          modification: new Attribute({ type: 'mail', values: ['mailprefix.cat@test.local'] }),
        }),
      ),
    );
    policy = await startPolicy(nats.url, {
      ldap: { ...sambaLdapSettings(samba), adminGroup: 'Search Line 7' },
    });
  });

  after(async () => {
    await policy?.close();
    await samba?.dispose();
    await nats?.dispose();
  });

  it('finds users by a prefix of sAMAccountName, displayName or mail, with enabled from userAccountControl', async () => {
    const byName = await call('GET', '/v1/users?q=srch');
    assert.equal(byName.status, 200, JSON.stringify(byName.body));
    const names = byName.body.items.map((u: Body) => u.sAMAccountName);
    assert.deepEqual(names, ['srchann', 'srchbob', 'srchcat', 'srchstar']);
    DirectorySearchResult.parse(byName.body);
    assert.equal(byName.body.truncated, false);
    const bob = byName.body.items.find((u: Body) => u.sAMAccountName === 'srchbob');
    assert.equal(bob.enabled, false);
    assert.equal(bob.displayName, 'Searchable Bob');
    assert.equal(byName.body.items.find((u: Body) => u.sAMAccountName === 'srchann').enabled, true);

    const byDisplay = await call('GET', `/v1/users?q=${encodeURIComponent('searchable b')}`);
    assert.deepEqual(
      byDisplay.body.items.map((u: Body) => u.sAMAccountName),
      ['srchbob'],
    );
    const byMail = await call('GET', '/v1/users?q=mailprefix');
    assert.deepEqual(
      byMail.body.items.map((u: Body) => [u.sAMAccountName, u.mail]),
      [['srchcat', 'mailprefix.cat@test.local']],
    );
    // Only a prefix: "Cat Searchable" does not match "searchable c" in the middle.
    assert.deepEqual((await call('GET', '/v1/users?q=Searchable%20C')).body.items, []);
  });

  it('takes the text literally (no filter syntax) and limits the answer', async () => {
    // "*" matches itself: only the display name that starts with "Srch*", not every "srch…" user.
    const star = await call('GET', `/v1/users?q=${encodeURIComponent('srch*')}`);
    assert.deepEqual(
      star.body.items.map((u: Body) => u.sAMAccountName),
      ['srchstar'],
    );
    const injected = await call('GET', `/v1/users?q=${encodeURIComponent('*)(sAMAccountName=*')}`);
    assert.equal(injected.status, 200);
    assert.deepEqual(injected.body.items, []);
    const two = await call('GET', '/v1/users?q=srch&limit=2');
    assert.equal(two.body.items.length, 2);
    assert.equal(two.body.truncated, true);
    for (const bad of ['', 'q=', 'q=x&limit=0', 'q=x&limit=101', 'q=x&other=1']) {
      const r = await call('GET', `/v1/users?${bad}`);
      assert.equal(r.status, 400, bad);
      assert.equal(r.body.error.code, 'invalid_request');
    }
  });

  it("shows a user's directory entry with nested groups, and 'not_found' for an unknown name", async () => {
    const ann = await call('GET', '/v1/users/srchann');
    assert.equal(ann.status, 200, JSON.stringify(ann.body));
    UserDetails.parse(ann.body);
    assert.equal(ann.body.user, 'srchann');
    assert.equal(ann.body.directory.state, 'found');
    assert.equal(ann.body.directory.displayName, 'Searchable Ann');
    assert.equal(ann.body.directory.enabled, true);
    assert.ok(
      ann.body.directory.groups.some((g: string) => g.startsWith('CN=Search Line 7,')),
      JSON.stringify(ann.body.directory.groups),
    );
    // The primary group (Domain Users) comes from tokenGroups, as group policies see it.
    assert.ok(ann.body.directory.groups.some((g: string) => g.startsWith('CN=Domain Users,')));
    assert.deepEqual(ann.body.bands, []);
    assert.ok(ann.body.effectivePolicy.settings.activeDirectory);
    // No user-status runs in this test: its section says so rather than guessing.
    assert.equal(ann.body.adStatus.status, 'unavailable');
    const nobody = await call('GET', '/v1/users/nosuchuser');
    assert.equal(nobody.status, 200);
    assert.equal(nobody.body.directory.state, 'not_found');
    assert.equal((await call('GET', '/v1/users/bad%20name')).status, 400);
  });

  it('warns on saving a group policy for a group the directory does not have', async () => {
    const known = await call('POST', '/v1/policies', {
      body: { policyId: 'line7', kind: 'group', name: 'Line 7', group: 'Search Line 7', settings: {} },
    });
    assert.equal(known.status, 201, JSON.stringify(known.body));
    assert.equal(known.body.warnings, undefined);
    const byDn = await call('PUT', '/v1/policies/line7', {
      body: { name: 'Line 7', group: `CN=Search Line 7,${samba.usersDn}`, settings: {} },
    });
    assert.equal(byDn.status, 200);
    assert.equal(byDn.body.warnings, undefined);
    const unknown = await call('POST', '/v1/policies', {
      body: { policyId: 'line8', kind: 'group', name: 'Line 8', group: 'No Such Line 8', settings: {} },
    });
    assert.equal(unknown.status, 201);
    assert.equal(unknown.body.warnings.length, 1);
    assert.equal(unknown.body.warnings[0].path, 'group');
    assert.match(unknown.body.warnings[0].message, /directory has no group "No Such Line 8"/);
  });

  it('answers 503 directory_unavailable when the directory does not answer', async () => {
    const deadPort = await freePort();
    const down = await startPolicy(nats.url, {
      ldap: { ...sambaLdapSettings(samba), url: `ldaps://127.0.0.1:${deadPort}`, adminGroup: 'x' },
    });
    try {
      const r = await down.api('GET', '/v1/users?q=srch');
      assert.equal(r.status, 503);
      assert.equal((r.body as unknown as Body).error.code, 'directory_unavailable');
      const details = (await down.api('GET', '/v1/users/srchann')).body as unknown as Body;
      UserDetails.parse(details);
      assert.equal(details.directory.state, 'unavailable');
      assert.match(details.directory.message, /did not answer/);
    } finally {
      await down.close();
    }
  });
});
