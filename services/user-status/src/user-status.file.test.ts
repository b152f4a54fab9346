import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { ConfigError, loadAgentConfig } from '@tapgate/config';
import type { Messaging } from '@tapgate/messaging';
import { startTelemetry } from '@tapgate/telemetry';
import { startNats, startRedis, waitFor, type TestServer } from '@tapgate/testing';
import { CONFIG_SECTIONS, createDirectory, type UserStatusApp } from './bootstrap';
import { NOT_CONFIGURED_MESSAGE } from './status/user-status.service';
import { ask, bootWithEnv, metric, sam, testClient, upn } from './test-support';

const run = promisify(execFile);

const USERS = `
users:
  - { sAMAccountName: alice, userPrincipalName: alice@demo.test, displayName: Alice, state: active }
  - { sAMAccountName: bob, state: disabled }
  - { sAMAccountName: carol, state: account_expired }
  - { sAMAccountName: dave, state: must_change_password }
  - { sAMAccountName: eve, state: locked_out }
  - { sAMAccountName: grace, state: password_expired }
`;

describe('user-status with the file directory (demo mode), Redis and NATS', () => {
  let nats: TestServer;
  let redis: TestServer;
  let dir: string;
  let app: UserStatusApp;
  let client: Messaging;
  let env: Record<string, string>;

  before(async () => {
    startTelemetry({ serviceName: 'user-status-test' });
    [nats, redis] = await Promise.all([startNats({ jetstream: false }), startRedis()]);
    dir = mkdtempSync(join(tmpdir(), 'user-status-file-'));
    writeFileSync(join(dir, 'users.yaml'), USERS);
    env = {
      TAPGATE_NATS_SERVERS: nats.url,
      TAPGATE_REDIS_URL: redis.url,
      TAPGATE_USER_STATUS_DIRECTORY: 'file',
      TAPGATE_USER_STATUS_USERS_FILE: join(dir, 'users.yaml'),
    };
    app = await bootWithEnv(env);
    client = await testClient(nats.url);
  });

  after(async () => {
    await client?.close();
    await app?.close();
    await Promise.all([nats?.dispose(), redis?.dispose()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('answers each state from the file, then from the cache', async () => {
    const expected = {
      alice: 'active',
      bob: 'disabled',
      carol: 'account_expired',
      dave: 'must_change_password',
      eve: 'locked_out',
      grace: 'password_expired',
    };
    for (const [user, status] of Object.entries(expected)) {
      const a = await ask(client, sam(user));
      assert.equal(a.status, status, user);
      assert.equal(a.source, 'directory');
      assert.equal(a.evidence.file, 'users.yaml');
      assert.equal((await ask(client, sam(user))).source, 'cache');
    }
    const alice = await ask(client, upn('ALICE@demo.test'));
    assert.deepEqual(alice.user, {
      sAMAccountName: 'alice',
      displayName: 'Alice',
      dn: 'CN=alice,CN=Users,DC=tapgate,DC=local',
    });
    assert.equal((await ask(client, sam('nobody'))).status, 'not_found');
  });

  it('serves health, readiness detail and metrics over HTTP', async () => {
    assert.deepEqual(await (await fetch(`${app.url}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${app.url}/readyz`);
    assert.equal(ready.status, 200);
    const detail = (await ready.json()) as Record<string, Record<string, unknown>>;
    assert.equal(detail.nats?.state, 'connected');
    assert.equal(detail.redis?.state, 'up');
    assert.equal(detail.ldap?.directory, 'file');
    assert.equal(detail.ldap?.state, 'up');
    assert.equal(detail.policy?.cacheExpirySeconds, 900);
    const text = await (await fetch(`${app.url}/metrics`)).text();
    for (const name of ['tapgate_userstatus_cache_total', 'tapgate_userstatus_answers_total']) {
      assert.match(text, new RegExp(`^${name}\\{`, 'm'));
    }
    assert.ok((await metric(app.url, 'tapgate_userstatus_cache_total', { result: 'hit' })) >= 6);
    assert.ok((await metric(app.url, 'tapgate_userstatus_answers_total', { status: 'disabled' })) >= 2);
  });

  it('is not ready while NATS is away, and ready again when it is back', async () => {
    await nats.stop();
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 503, { what: 'unready' });
    await nats.start();
    await waitFor(async () => (await fetch(`${app.url}/readyz`)).status === 200, {
      what: 'ready',
      timeoutMs: 15_000,
    });
    await waitFor(async () => (await ask(client, sam('alice'))).status === 'active', {
      what: 'answers again',
    });
  });

  it('keeps the admin API off without an admin token', async () => {
    const r = await fetch(`${app.url}/v1/cache/invalidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer anything-at-all-0123456789' },
      body: JSON.stringify({ user: 'alice' }),
    });
    assert.equal(r.status, 403);
  });

  it('answers not_configured when the configuration turns Check User Status off', async () => {
    await app.close();
    app = await bootWithEnv({ ...env, TAPGATE_USER_STATUS_CHECK_USER_STATUS: 'false' });
    const a = await ask(client, sam('alice'));
    assert.equal(a.status, 'not_configured');
    assert.equal(a.message, NOT_CONFIGURED_MESSAGE);
  });

  it('refuses to start without a usable directory, naming the key', () => {
    const load = (extra: Record<string, string>) =>
      createDirectory(loadAgentConfig({ env: { ...extra }, sections: CONFIG_SECTIONS }));
    assert.throws(
      () => load({}),
      (e: Error) => e instanceof ConfigError && /\[ldap\]\.url: required/.test(e.message),
    );
    writeFileSync(join(dir, 'bad.yaml'), 'users: [{ sAMAccountName: x, state: asleep }]');
    assert.throws(
      () =>
        load({
          TAPGATE_USER_STATUS_DIRECTORY: 'file',
          TAPGATE_USER_STATUS_USERS_FILE: join(dir, 'bad.yaml'),
        }),
      (e: Error) => e instanceof ConfigError && /users_file: .*bad\.yaml: users\.0\.state/.test(e.message),
    );
  });

  it('CLI: explains its usage and reports an unreachable service', async () => {
    const cli = join(__dirname, 'cli.js');
    await assert.rejects(run(process.execPath, [cli]), (e: { code: number; stderr: string }) => {
      return e.code === 64 && /usage: .*invalidate <user>/s.test(e.stderr);
    });
    const closed = await startNats({ jetstream: false });
    try {
      await assert.rejects(
        run(process.execPath, [cli, 'status', 'alice'], {
          env: { ...process.env, TAPGATE_CONFIG: '', TAPGATE_NATS_SERVERS: closed.url },
        }),
        (e: { code: number; stderr: string }) => e.code === 1 && /no responders/.test(e.stderr),
      );
    } finally {
      await closed.dispose();
    }
  });
});
