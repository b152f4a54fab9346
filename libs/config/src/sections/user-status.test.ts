import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { makeTestPki, type TestPki } from '@tapgate/testing';
import { loadAgentConfig } from '../index';
import { assertConfigError, scratch } from '../test-helpers';

describe('[ldap] and [user_status] sections', () => {
  const tmp = scratch('user-status-config');
  after(() => tmp.dispose());
  const load = (toml: string, env: NodeJS.ProcessEnv = {}) =>
    loadAgentConfig({ path: tmp.write('nymi_agent.toml', toml), env, sections: ['ldap', 'userStatus'] });
  const file = () => `${tmp.dir}/nymi_agent.toml`;

  it('defaults: no directory configured, Check User Status on, 15 min cache', () => {
    const cfg = loadAgentConfig({ env: {}, sections: ['ldap', 'userStatus'] });
    assert.deepEqual(cfg.ldap, {
      startTls: false,
      allowInsecure: false,
      connectTimeoutMs: 2000,
      timeoutMs: 2000,
      poolSize: 4,
    });
    assert.deepEqual(cfg.userStatus, {
      directory: 'ldap',
      checkUserStatus: true,
      cacheUserStatus: true,
      cacheExpirySeconds: 900,
      negativeCacheSeconds: 15,
      cacheTimeoutMs: 250,
    });
  });

  it('reads a complete ldaps:// directory, the bind password and CA from files relative to the config', async () => {
    const pki: TestPki = await makeTestPki();
    after(() => pki.dispose());
    tmp.write('secrets/bind.pw', '  s3cret-Pass!  \n');
    const cfg = load(`
[ldap]
url = "ldaps://dc1.corp.example:636"
base_dn = "DC=corp,DC=example"
bind_dn = "svc-tapgate@corp.example"
bind_password_file = "secrets/bind.pw"
ca_file = "${pki.ca.certFile}"
pool_size = 8
[user_status]
cache_expiry_seconds = 30
`);
    assert.equal(cfg.ldap.url, 'ldaps://dc1.corp.example:636');
    assert.deepEqual(cfg.ldap.bind, { dn: 'svc-tapgate@corp.example', password: 's3cret-Pass!' });
    assert.match(cfg.ldap.ca ?? '', /BEGIN CERTIFICATE/);
    assert.equal(cfg.ldap.poolSize, 8);
    assert.equal(cfg.userStatus.cacheExpirySeconds, 30);
  });

  it('names what an [ldap] url needs', () => {
    tmp.write('pw', 'x');
    assertConfigError(() => load('[ldap]\nurl = "ldaps://dc"\n'), {
      file: file(),
      key: '[ldap].base_dn',
      problem: 'required when [ldap].url is set',
    });
    assertConfigError(() => load('[ldap]\nurl = "ldaps://dc"\nbase_dn = "DC=x"\nbind_dn = "a@x"\n'), {
      file: file(),
      key: '[ldap].bind_password_file',
      problem: 'required when [ldap].url is set',
    });
    assertConfigError(
      () =>
        load('[ldap]\nurl = "ldaps://dc"\nbase_dn = "DC=x"\nbind_dn = "a@x"\nbind_password_file = "nope"\n'),
      {
        file: file(),
        key: '[ldap].bind_password_file',
        problem: /cannot read .*nope: no such file/,
      },
    );
    assertConfigError(() => load('[ldap]\nurl = "http://dc"\n'), {
      file: file(),
      key: '[ldap].url',
      problem: /must be a URL starting with ldap:\/\/ or ldaps:\/\//,
    });
  });

  it('refuses to send the bind password in clear text unless told to', () => {
    const base = 'base_dn = "DC=x"\nbind_dn = "a@x"\nbind_password_file = "pw"\n';
    tmp.write('pw', 'x');
    assertConfigError(() => load(`[ldap]\nurl = "ldap://dc"\n${base}`), {
      file: file(),
      key: '[ldap].url',
      problem: /clear text/,
    });
    assert.equal(load(`[ldap]\nurl = "ldap://dc"\nstart_tls = true\n${base}`).ldap.startTls, true);
    assert.equal(load(`[ldap]\nurl = "ldap://dc"\nallow_insecure = true\n${base}`).ldap.allowInsecure, true);
    assertConfigError(() => load(`[ldap]\nurl = "ldaps://dc"\nstart_tls = true\n${base}`), {
      file: file(),
      key: '[ldap].start_tls',
      problem: /cannot be used with an ldaps:\/\/ url/,
    });
  });

  it('rejects a CA file that is not PEM, and bad values from the environment', () => {
    tmp.write('pw', 'x');
    tmp.write('ca.pem', 'not a certificate');
    assertConfigError(
      () =>
        load(
          '[ldap]\nurl = "ldaps://dc"\nbase_dn = "DC=x"\nbind_dn = "a@x"\nbind_password_file = "pw"\nca_file = "ca.pem"\n',
        ),
      { file: file(), key: '[ldap].ca_file', problem: /ca\.pem/ },
    );
    assertConfigError(() => load('', { TAPGATE_LDAP_POOL_SIZE: '0' }), {
      key: 'TAPGATE_LDAP_POOL_SIZE',
      problem: 'must be an integer 1-64 (got 0)',
    });
    assertConfigError(() => load('', { TAPGATE_USER_STATUS_CACHE_EXPIRY_SECONDS: '0' }), {
      key: 'TAPGATE_USER_STATUS_CACHE_EXPIRY_SECONDS',
      problem: 'must be an integer 1-86400 (got 0)',
    });
    // A negative answer is never kept long: more than a minute is refused.
    assertConfigError(() => load('', { TAPGATE_USER_STATUS_NEGATIVE_CACHE_SECONDS: '600' }), {
      key: 'TAPGATE_USER_STATUS_NEGATIVE_CACHE_SECONDS',
      problem: 'must be an integer 1-60 (got 600)',
    });
    assertConfigError(() => load('', { TAPGATE_USER_STATUS_CACHE_EXPIRY: '30' }), {
      key: 'TAPGATE_USER_STATUS_CACHE_EXPIRY',
      problem: /unknown key/,
    });
  });

  it('[user_status]: a file directory needs users_file; the admin token must be strong', () => {
    assertConfigError(() => load('[user_status]\ndirectory = "file"\n'), {
      file: file(),
      key: '[user_status].users_file',
      problem: 'required when directory = "file"',
    });
    const users = tmp.write('users.yaml', 'users: []');
    assert.equal(
      load('[user_status]\ndirectory = "file"\nusers_file = "users.yaml"\n').userStatus.usersFile,
      users,
    );
    tmp.write('weak.token', 'short');
    assertConfigError(() => load('[user_status]\nadmin_token_file = "weak.token"\n'), {
      file: file(),
      key: '[user_status].admin_token_file',
      problem: /at least 24 characters/,
    });
    tmp.write('good.token', 'a'.repeat(32));
    const cfg = load('[user_status]\nadmin_token_file = "good.token"\ncheck_user_status = false\n');
    assert.deepEqual(cfg.userStatus.admin, { token: 'a'.repeat(32) });
    assert.equal(cfg.userStatus.checkUserStatus, false);
  });
});
