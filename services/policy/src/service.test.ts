import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { exportBandPublicKeyJwk, generateBandKeyPair } from '@tapgate/band';
import { ConfigError, loadAgentConfig } from '@tapgate/config';
import { setLogDestination, startTelemetry } from '@tapgate/telemetry';
import { freePort, spawnServer, startNats, waitFor, type TestServer } from '@tapgate/testing';
import { bootstrap } from './bootstrap';
import { POLICY_CONFIG_SECTIONS } from './policy-settings';
import {
  startPolicy,
  startUserStatusDouble,
  writePolicyConfig,
  type PolicyHarness,
} from './testing/policy-harness';

const MAIN = join(__dirname, 'main.js');

describe('policy service', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let userStatus: ReturnType<typeof startUserStatusDouble>;
  const logs: string[] = [];

  before(async () => {
    // Capture every log line of the app booted below, to check that no secret reaches a log.
    startTelemetry({ serviceName: 'policy' });
    setLogDestination({ write: (line: string) => void logs.push(line) }, 'debug');
    nats = await startNats();
    userStatus = startUserStatusDouble(nats.url);
    await userStatus.ready();
    policy = await startPolicy(nats.url);
  });

  after(async () => {
    await policy?.close();
    await userStatus?.stop();
    await nats?.dispose();
  });

  describe('administrator check (break-glass token)', () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', '/v1/enrollments'],
      ['GET', '/v1/enrollments/b1'],
      ['POST', '/v1/enrollments', { bandId: 'b1', user: { sAMAccountName: 'a' }, publicKey: 'x' }],
      ['POST', '/v1/enrollments/b1/suspend'],
      ['PUT', '/v1/enrollments/b1/key', { publicKey: 'x' }],
      ['DELETE', '/v1/enrollments/b1'],
      ['GET', '/v1/terminals'],
      ['POST', '/v1/terminals', { terminalId: 't1' }],
      ['POST', '/v1/terminals/t1/credential'],
      ['DELETE', '/v1/terminals/t1'],
    ];

    it('answers 401 on every /v1 route without a token', async () => {
      for (const [method, path, body] of routes) {
        const res = await policy.api(method, path, { body, token: null });
        assert.equal(res.status, 401, `${method} ${path}`);
        assert.equal(res.body.error.code, 'unauthorized');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      }
    });

    it('answers 401 with a wrong token, a token with extra characters, or another scheme', async () => {
      const wrong = [`${policy.token.slice(0, -1)}x`, `${policy.token}x`, policy.token.slice(1), 'short'];
      for (const token of wrong) {
        for (const [method, path, body] of routes) {
          assert.equal((await policy.api(method, path, { body, token })).status, 401, `${method} ${path}`);
        }
      }
      const basic = await policy.api('GET', '/v1/terminals', {
        token: null,
        headers: { authorization: `Basic ${Buffer.from(`admin:${policy.token}`).toString('base64')}` },
      });
      assert.equal(basic.status, 401);
      const bare = await policy.api('GET', '/v1/terminals', {
        token: null,
        headers: { authorization: policy.token },
      });
      assert.equal(bare.status, 401);
      // Nothing was created by the refused writes.
      assert.deepEqual((await policy.api('GET', '/v1/terminals')).body.items, []);
    });

    it('accepts the configured token (the scheme is case-insensitive)', async () => {
      const res = await policy.api('GET', '/v1/terminals', {
        token: null,
        headers: { authorization: `bearer ${policy.token}` },
      });
      assert.equal(res.status, 200);
    });

    it('leaves the probes and metrics open', async () => {
      for (const path of ['/healthz', '/readyz', '/metrics']) {
        const res = await fetch(`${policy.url}${path}`);
        assert.equal(res.status, 200, path);
      }
      assert.deepEqual(await (await fetch(`${policy.url}/readyz`)).json(), {
        ready: true,
        nats: true,
        buckets: true,
      });
    });

    it('never writes the admin token or a terminal credential to the log', async () => {
      const created = await policy.api('POST', '/v1/terminals', { body: { terminalId: 'log-check' } });
      assert.equal(created.status, 201);
      const rotated = await policy.api('POST', '/v1/terminals/log-check/credential');
      await policy.api('GET', '/v1/terminals', { token: 'wrong-token-for-the-log-check' });
      const text = logs.join('');
      assert.match(text, /terminal changed/, 'the log capture works');
      for (const secret of [
        policy.token,
        created.body.credential,
        rotated.body.credential,
        'wrong-token-for-the-log-check',
      ]) {
        assert.equal(text.includes(secret), false);
      }
    });

    it('counts changes in /metrics', async () => {
      const text = await (await fetch(`${policy.url}/metrics`)).text();
      assert.match(text, /^tapgate_policy_terminal_changes_total\{action="create"\} [1-9]/m);
      assert.match(text, /^tapgate_policy_terminal_changes_total\{action="rotate"\} [1-9]/m);
    });
  });

  describe('readiness and NATS outages', () => {
    it('reports not ready and answers 503 while NATS is down; data survives a NATS restart', async () => {
      const key = exportBandPublicKeyJwk(generateBandKeyPair().publicKey);
      const created = await policy.api('POST', '/v1/enrollments', {
        body: { bandId: 'outage-band', user: { sAMAccountName: 'olga' }, publicKey: key },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));

      await nats.stop();
      await waitFor(async () => (await fetch(`${policy.url}/readyz`)).status === 503, { what: 'not ready' });
      const ready = await (await fetch(`${policy.url}/readyz`)).json();
      assert.deepEqual(ready, { ready: false, nats: false, buckets: false });
      const read = await policy.api('GET', '/v1/enrollments/outage-band');
      assert.equal(read.status, 503);
      assert.equal(read.body.error.code, 'unavailable');
      const write = await policy.api('POST', '/v1/enrollments/outage-band/suspend');
      assert.equal(write.status, 503);

      await nats.start();
      await waitFor(async () => (await fetch(`${policy.url}/readyz`)).ok, {
        what: 'ready again',
        timeoutMs: 15_000,
      });
      const after = await policy.api('GET', '/v1/enrollments/outage-band');
      assert.equal(after.status, 200);
      assert.equal(after.body.active, true);
      assert.deepEqual(after.body.publicKey, key);
    });
  });

  describe('start-up', () => {
    it('refuses to start without [policy].admin_token_file (ConfigError naming the key)', async () => {
      const { dir, configPath } = writePolicyConfig(nats.url, await freePort(), { token: null });
      try {
        const config = loadAgentConfig({ path: configPath, env: {}, sections: POLICY_CONFIG_SECTIONS });
        await assert.rejects(bootstrap(config), (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.equal(e.file, configPath);
          assert.equal(e.key, '[policy].admin_token_file');
          assert.match(e.message, /required/);
          return true;
        });
        const run = spawnSync(process.execPath, [MAIN], {
          env: { ...process.env, TAPGATE_CONFIG: configPath },
          encoding: 'utf8',
          timeout: 20_000,
        });
        assert.equal(run.status, 2, run.stderr);
        assert.match(
          run.stderr,
          /^config error: .*nymi_agent\.toml: \[policy\]\.admin_token_file: required/m,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('rejects a weak admin token without printing it', () => {
      const { dir, configPath } = writePolicyConfig(nats.url, 8080, { token: 'tooshort' });
      try {
        assert.throws(
          () => loadAgentConfig({ path: configPath, env: {}, sections: POLICY_CONFIG_SECTIONS }),
          (e: unknown) => {
            assert.ok(e instanceof ConfigError);
            assert.equal(e.key, '[policy].admin_token_file');
            assert.match(e.problem, /at least 24 characters/);
            assert.equal(e.message.includes('tooshort'), false);
            return true;
          },
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('main.js serves the API from the config file and exits cleanly on SIGTERM', async () => {
      const port = await freePort();
      const { dir, configPath, token } = writePolicyConfig(nats.url, port);
      try {
        const proc = await spawnServer(process.execPath, [MAIN], port, {
          env: { ...process.env, TAPGATE_CONFIG: configPath },
          timeoutMs: 20_000,
        });
        await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok, {
          what: 'main.js ready',
        });
        const res = await fetch(`http://127.0.0.1:${port}/v1/terminals`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.status, 200);
        await proc.stop('SIGTERM');
        assert.equal(proc.child.exitCode, 0, proc.output());
        assert.equal(proc.output().includes(token), false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
