import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { UserStatusGet, UserStatusInvalidate, type UserRef } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { setLogDestination, startTelemetry } from '@tapgate/telemetry';
import {
  SEEDED_USERS,
  makeTestPki,
  sleep,
  startNats,
  startRedis,
  startSambaAd,
  waitFor,
  type SambaAd,
  type TestServer,
} from '@tapgate/testing';
import type { UserStatusApp } from './bootstrap';
import { LdapDirectory } from './directory/ldap-directory';
import type { KvPolicySource } from './policy/kv-policy-source';
import { NOT_CONFIGURED_MESSAGE } from './status/user-status.service';
import { LogCapture, ask, bootWithEnv, metric, sam, testClient, upn } from './test-support';

const run = promisify(execFile);
const ADMIN_TOKEN = 'admin-token-0123456789abcdefghij';

// Every test that needs Active Directory lives in this one file: Samba's ports are fixed, so only one
// instance can run at a time (startSambaAd also takes a lock against other test processes).
describe('user-status against Samba AD, Redis and NATS', () => {
  const logs = new LogCapture();
  let ad: SambaAd;
  let nats: TestServer;
  let redis: TestServer;
  let dir: string;
  let app: UserStatusApp;
  let client: Messaging;
  let env: Record<string, string>;
  const policy = () => app.policy as KvPolicySource;
  const ldapQueries = () => metric(app.url, 'tapgate_ldap_latency_count');
  const invalidate = (user: UserRef) => client.request(UserStatusInvalidate, { v: 1, user });
  const readyz = async () =>
    (await (await fetch(`${app.url}/readyz`)).json()) as Record<string, { state: string }>;

  before(async () => {
    startTelemetry({ serviceName: 'user-status-test' });
    setLogDestination(logs, 'debug'); // everything logged from here on is checked for secrets at the end
    [ad, nats, redis] = await Promise.all([startSambaAd(), startNats({ jetstream: false }), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), 'user-status-test-'));
    writeFileSync(join(dir, 'bind.pw'), `${ad.serviceAccount.password}\n`);
    writeFileSync(join(dir, 'admin.token'), ADMIN_TOKEN);
    env = {
      TAPGATE_NATS_SERVERS: nats.url,
      TAPGATE_REDIS_URL: redis.url,
      TAPGATE_LDAP_URL: ad.ldapsUrl,
      TAPGATE_LDAP_BASE_DN: ad.baseDn,
      TAPGATE_LDAP_BIND_DN: ad.serviceAccount.userPrincipalName,
      TAPGATE_LDAP_BIND_PASSWORD_FILE: join(dir, 'bind.pw'),
      TAPGATE_LDAP_CA_FILE: ad.caFile,
      TAPGATE_LDAP_TIMEOUT_MS: '1500',
      TAPGATE_LDAP_CONNECT_TIMEOUT_MS: '1000',
      TAPGATE_USER_STATUS_ADMIN_TOKEN_FILE: join(dir, 'admin.token'),
      TAPGATE_USER_STATUS_NEGATIVE_CACHE_SECONDS: '2',
    };
    app = await bootWithEnv(env);
    client = await testClient(nats.url);
  });

  after(async () => {
    await client?.close();
    await app?.close();
    await Promise.all([ad?.dispose(), nats?.dispose(), redis?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers every status from the directory, then from the cache, with the evidence', async () => {
    for (const [user, status] of Object.entries(SEEDED_USERS)) {
      const first = await ask(client, sam(user));
      assert.equal(first.status, status, `${user}: ${JSON.stringify(first)}`);
      assert.equal(first.source, 'directory');
      assert.equal(first.user?.sAMAccountName, user);
      assert.equal(first.evidence.dn, ad.userDn(user));
      for (const attr of [
        'userAccountControl',
        'msDS-User-Account-Control-Computed',
        'pwdLastSet',
        'accountExpires',
      ]) {
        assert.match(first.evidence[attr] ?? '', /^\d+$/, `${user} evidence ${attr}`);
      }
      const second = await ask(client, sam(user));
      assert.equal(second.status, status);
      assert.equal(second.source, 'cache');
      assert.equal(second.checkedAt, first.checkedAt, 'a cached answer says when the directory was read');
      assert.deepEqual(second.evidence, first.evidence);
    }
    // dave has pwdLastSet = 0 and the computed 0x800000 too: must_change_password wins.
    assert.equal((await ask(client, sam('dave'))).evidence['msDS-User-Account-Control-Computed'], '8388608');
    assert.equal((await ask(client, upn('grace@test.local'))).status, 'password_expired');
    const nobody = await ask(client, sam('nobody'));
    assert.equal(nobody.status, 'not_found');
    assert.equal(nobody.user, undefined);
  });

  it('caches not_found only for the short negative TTL, whatever the expiry', async () => {
    policy().update({ cacheExpirySeconds: 900 });
    const first = await ask(client, sam('late-comer'));
    assert.equal(first.status, 'not_found');
    assert.equal((await ask(client, sam('late-comer'))).source, 'cache');
    await ad.createUser('late-comer');
    // negative_cache_seconds = 2 (set in `env`): the account is found once that passes, not after 900 s.
    const found = await waitFor(
      async () => {
        const a = await ask(client, sam('late-comer'));
        return a.status === 'active' ? a : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 200, what: 'late-comer found' },
    );
    assert.equal(found.source, 'directory');
    assert.ok(
      Date.parse(found.checkedAt) - Date.parse(first.checkedAt) >= 2_000,
      'not before the negative TTL',
    );
    assert.equal(
      (await ask(client, sam('late-comer'))).source,
      'cache',
      'a found account is cached for the expiry',
    );
  });

  it('answers a GUID query for the bound object, caches it by GUID, and invalidates it by name', async () => {
    const byName = await ask(client, sam('alice'));
    const guid = byName.directoryObject?.objectGUID;
    assert.match(guid ?? '', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.match(byName.directoryObject?.objectSid ?? '', /^S-1-5-21-\d+-\d+-\d+-\d+$/);
    await invalidate(sam('alice'));
    const askBound = (name: string, objectGUID: string) =>
      client.request(UserStatusGet, { v: 1, user: sam(name), objectGUID });
    const bound = await askBound('alice', guid!);
    assert.equal(bound.status, 'active');
    assert.equal(bound.source, 'directory');
    assert.equal((await askBound('alice', guid!)).source, 'cache');
    // Another name with alice's GUID is a different question: not answered from alice's entry.
    const bobAsAlice = await askBound('bob', guid!);
    assert.equal(bobAsAlice.status, 'identity_changed');
    assert.equal(bobAsAlice.user, undefined, "nothing of the name's new holder is shown");
    // An object that does not exist (any GUID) under a free name: not_found.
    assert.equal((await askBound('nobody-here', '00000000-0000-0000-0000-000000000001')).status, 'not_found');
    assert.deepEqual(await invalidate(sam('alice')), { v: 1, removed: true });
    assert.equal((await askBound('alice', guid!)).source, 'directory', 'the GUID entry went with the name');
  });

  it('finds nothing for filter injection attempts', async () => {
    for (const attempt of [
      '*)(uid=*',
      'alice)(|(objectClass=*',
      '*@test.local',
      'al*@test.local',
      '*)(sAMAccountName=alice',
    ]) {
      const a = await ask(client, upn(attempt));
      assert.equal(a.status, 'not_found', `${attempt}: ${a.status}`);
    }
    // Account names with filter characters are refused by the schema before they reach LDAP...
    await assert.rejects(ask(client, sam('al*')), { name: 'RequestError', kind: 'remote_error' });
    // ...and the directory escapes them anyway.
    const direct = new LdapDirectory({
      url: ad.ldapsUrl,
      baseDn: ad.baseDn,
      bindDn: ad.serviceAccount.dn,
      bindPassword: ad.serviceAccount.password,
      ca: ad.ca,
      startTls: false,
      connectTimeoutMs: 1000,
      timeoutMs: 2000,
      poolSize: 1,
    });
    try {
      for (const attempt of ['*', 'a*', '*)(uid=*', 'alice)(|(objectClass=*', 'alice\\2a']) {
        assert.equal(await direct.lookup(sam(attempt)), null, attempt);
      }
      assert.equal((await direct.lookup(sam('ALICE')))?.user.sAMAccountName, 'alice');
    } finally {
      await direct.close();
    }
  });

  it('speaks ldap:// with StartTLS and plain, and refuses a certificate it cannot verify', async () => {
    const base = {
      baseDn: ad.baseDn,
      bindDn: ad.serviceAccount.dn,
      bindPassword: ad.serviceAccount.password,
      connectTimeoutMs: 1000,
      timeoutMs: 2000,
      poolSize: 2,
    };
    const startTls = new LdapDirectory({ ...base, url: ad.url, startTls: true, ca: ad.ca });
    const plain = new LdapDirectory({ ...base, url: ad.url, startTls: false });
    const untrusted = new LdapDirectory({ ...base, url: ad.ldapsUrl, startTls: false });
    try {
      assert.equal((await startTls.lookup(sam('bob')))?.attributes.userAccountControl, '514');
      assert.equal((await plain.lookup(sam('bob')))?.attributes.userAccountControl, '514');
      await assert.rejects(untrusted.lookup(sam('bob')), { name: 'DirectoryError', kind: 'unreachable' });
      assert.equal(untrusted.health().state, 'down');
      assert.doesNotMatch(untrusted.health().detail ?? '', /use-system-ca/);
      // The start-up check over StartTLS: the right CA passes (and binds); a foreign CA is named.
      await startTls.probe();
      assert.equal(startTls.health().state, 'up');
      const pki = await makeTestPki();
      const foreign = new LdapDirectory({ ...base, url: ad.url, startTls: true, ca: pki.ca.cert });
      try {
        await assert.rejects(foreign.probe(), {
          name: 'LdapTrustError',
          key: 'ca_file',
          message:
            /^ldap:\/\/127\.0\.0\.1:389: the directory's certificate \(CN=dc1\.test\.local, issued by CN=Tapgate test AD CA\) is not signed by a CA in \[ldap\]\.ca_file/,
        });
      } finally {
        await foreign.close();
        pki.dispose();
      }
    } finally {
      await Promise.all([startTls.close(), plain.close(), untrusted.close()]);
    }
  });

  it('honours the cache expiry for a user flipped over LDAP, and applies a new expiry at once', async () => {
    await ad.createUser('frank', { displayName: 'Frank Flipped' });
    policy().update({ cacheExpirySeconds: 600 });
    const before = await ask(client, sam('frank'));
    assert.equal(before.status, 'active');
    await ad.disableUser('frank');
    assert.deepEqual(await ad.readUser('frank').then((u) => u.userAccountControl), '514');
    const cached = await ask(client, sam('frank'));
    assert.equal(cached.status, 'active', 'within the expiry the cached answer stands');
    assert.equal(cached.source, 'cache');
    // Shortening the expiry applies to the entry already cached: it is now older than 2 s soon.
    policy().update({ cacheExpirySeconds: 2 });
    const after = await waitFor(
      async () => {
        const a = await ask(client, sam('frank'));
        return a.status === 'disabled' ? a : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 100, what: 'frank disabled' },
    );
    assert.equal(after.source, 'directory');
    assert.ok(Date.parse(after.checkedAt) - Date.parse(before.checkedAt) >= 2_000, 'not before the expiry');
    await ad.enableUser('frank');
    await sleep(2_100);
    assert.equal((await ask(client, sam('frank'))).status, 'active');
    policy().update({ cacheExpirySeconds: 900 });
  });

  it('serves 50 concurrent misses for one user with one directory query', async () => {
    await invalidate(sam('carol'));
    const queriesBefore = await ldapQueries();
    const answers = await Promise.all(Array.from({ length: 50 }, () => ask(client, sam('carol'))));
    assert.equal((await ldapQueries()) - queriesBefore, 1);
    assert.ok(answers.every((a) => a.status === 'account_expired'));
    assert.ok(answers.some((a) => a.source === 'directory'));
  });

  it('invalidates one user from the CLI and the admin API', async () => {
    await ask(client, sam('alice'));
    const cli = join(__dirname, 'cli.js');
    const { stdout } = await run(process.execPath, [cli, 'invalidate', 'alice'], {
      env: { ...process.env, TAPGATE_CONFIG: '', TAPGATE_NATS_SERVERS: nats.url },
    });
    assert.deepEqual(JSON.parse(stdout), { v: 1, removed: true });
    assert.equal((await ask(client, sam('alice'))).source, 'directory');
    const status = await run(process.execPath, [cli, 'status', 'alice@test.local'], {
      env: { ...process.env, TAPGATE_CONFIG: '', TAPGATE_NATS_SERVERS: nats.url },
    });
    assert.equal((JSON.parse(status.stdout) as { status: string }).status, 'active');
    await assert.rejects(run(process.execPath, [cli, 'invalidate', 'al*ce']), { code: 64 });

    const post = (auth: string | undefined, body: unknown) =>
      fetch(`${app.url}/v1/cache/invalidate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: JSON.stringify(body),
      });
    assert.equal((await post(undefined, { user: 'alice' })).status, 401);
    assert.equal((await post('Bearer wrong-token-0123456789abcdefghij', { user: 'alice' })).status, 401);
    assert.equal((await post(`Bearer ${ADMIN_TOKEN}`, { user: 'al*ce' })).status, 400);
    const ok = await post(`Bearer ${ADMIN_TOKEN}`, { user: 'alice' });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { removed: true });
    // Filled by userPrincipalName, invalidated by sAMAccountName: both keys go.
    await ask(client, upn('alice@test.local'));
    assert.deepEqual(await (await post(`Bearer ${ADMIN_TOKEN}`, { user: 'alice' })).json(), {
      removed: true,
    });
    assert.equal((await ask(client, upn('alice@test.local'))).source, 'directory');
  });

  it('answers not_configured when Check User Status is off, and skips the cache when caching is off', async () => {
    policy().update({ checkUserStatus: false });
    const a = await ask(client, sam('alice'));
    assert.equal(a.status, 'not_configured');
    assert.equal(a.message, NOT_CONFIGURED_MESSAGE);
    assert.equal(a.source, 'none');
    policy().update({ checkUserStatus: true, cacheUserStatus: false });
    const bypassBefore = await metric(app.url, 'tapgate_userstatus_cache_total', { result: 'bypass' });
    assert.equal((await ask(client, sam('alice'))).source, 'directory');
    assert.equal((await ask(client, sam('alice'))).source, 'directory');
    assert.equal(
      (await metric(app.url, 'tapgate_userstatus_cache_total', { result: 'bypass' })) - bypassBefore,
      2,
    );
    assert.equal((await readyz()).redis?.state, 'bypassed');
    policy().update({ cacheUserStatus: true });
  });

  it('answers straight from the directory while Redis is down, and says so', async () => {
    await ask(client, sam('bob'));
    await redis.stop();
    await waitFor(async () => (await readyz()).redis?.state === 'down', {
      what: 'readiness to report Redis down',
    });
    const errorsBefore = await metric(app.url, 'tapgate_userstatus_cache_total', { result: 'error' });
    const started = Date.now();
    const a = await ask(client, sam('bob'));
    assert.equal(a.status, 'disabled');
    assert.equal(a.source, 'directory');
    assert.ok(Date.now() - started < 1_000, 'no waiting on the dead Redis');
    assert.ok((await metric(app.url, 'tapgate_userstatus_cache_total', { result: 'error' })) > errorsBefore);
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 200, 'Redis down is degraded, not unready');
    await redis.start();
    await waitFor(async () => (await readyz()).redis?.state === 'up', {
      what: 'Redis back',
      timeoutMs: 10_000,
    });
    await ask(client, sam('bob'));
    assert.equal((await ask(client, sam('bob'))).source, 'cache');
  });

  it('serves still-valid cached entries while Samba is down and never turns the rest into active', async () => {
    await ask(client, sam('alice')); // cached
    await invalidate(sam('eve'));
    await ad.stop();
    const alice = await ask(client, sam('alice'));
    assert.equal(alice.status, 'active');
    assert.equal(alice.source, 'cache');
    const eve = await ask(client, sam('eve'));
    assert.equal(eve.status, 'unavailable');
    assert.equal(eve.source, 'none');
    assert.equal((await ask(client, sam('eve'))).source, 'none', 'unavailable is never cached');
    const r = await readyz();
    assert.equal(r.ldap?.state, 'down');
    assert.equal((await fetch(`${app.url}/readyz`)).status, 200);
    // An expired entry is not served, even though the directory is down.
    policy().update({ cacheExpirySeconds: 1 });
    await sleep(1_100);
    assert.equal((await ask(client, sam('alice'))).status, 'unavailable');
    policy().update({ cacheExpirySeconds: 900 });
    await ad.start();
    const back = await ask(client, sam('eve'));
    assert.equal(back.status, 'locked_out');
    assert.equal(back.source, 'directory');
    assert.equal((await readyz()).ldap?.state, 'up');
  });

  it('never logs the bind password, even when the bind fails', async () => {
    await ad.createUser('svc-broken', { password: 'Right!Pass-4242' });
    const wrong = 'Wr0ng!Secret-Pass-77';
    writeFileSync(join(dir, 'wrong.pw'), wrong);
    const broken = await bootWithEnv({
      ...env,
      TAPGATE_LDAP_BIND_DN: `svc-broken@${ad.realm}`,
      TAPGATE_LDAP_BIND_PASSWORD_FILE: join(dir, 'wrong.pw'),
      TAPGATE_AGENT_LOG_LEVEL: 'debug',
      TAPGATE_USER_STATUS_CACHE_USER_STATUS: 'false',
    });
    try {
      for (let i = 0; i < 5; i++) {
        const a = await broken.service.get(sam('alice'));
        assert.equal(a.status, 'unavailable');
        assert.equal(a.source, 'none');
      }
      assert.equal(broken.directory.health().state, 'down');
      assert.match(
        broken.directory.health().detail ?? '',
        /bind rejected: invalid credentials \(AD data 52e\)/,
      );
      // One rejected bind, not one per request: retries must not lock the service account out.
      const account = await ad.asAdmin((c) =>
        c.search(ad.userDn('svc-broken'), {
          scope: 'base',
          attributes: ['badPwdCount', 'msDS-User-Account-Control-Computed'],
        }),
      );
      assert.equal(account.searchEntries[0]?.badPwdCount, '1');
      assert.equal(account.searchEntries[0]?.['msDS-User-Account-Control-Computed'], '0');
    } finally {
      await broken.close();
    }
    const text = logs.text();
    assert.match(text, /invalid credentials/, 'the failed bind was logged');
    for (const secret of [wrong, ad.serviceAccount.password, ADMIN_TOKEN]) {
      assert.ok(!text.includes(secret), 'a secret reached the log');
    }
  });
});
