/* eslint-disable @typescript-eslint/no-unsafe-member-access -- response bodies are read loosely; the assertions check their shape */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resetLogDestination, setLogDestination } from '@tapgate/telemetry';
import { startNats, type TestServer } from '@tapgate/testing';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';
import { BootstrapAdminCode } from './bootstrap-code';

type Body = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A raw HTTP call as a browser on the login page would make it (no Authorization header). */
async function post(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Body; cookie: string | null }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: (text ? JSON.parse(text) : {}) as Body,
    cookie: res.headers.get('set-cookie'),
  };
}

describe('first sign-in: bootstrap administrator code and break-glass token on the login page', () => {
  let nats: TestServer;
  let policy: PolicyHarness;
  let codeFile: string;
  let log = '';

  before(async () => {
    nats = await startNats();
    setLogDestination({ write: (chunk: string) => void (log += chunk) }, 'info');
    policy = await startPolicy(nats.url, { bootstrapAdmin: {} });
    codeFile = join(policy.dir, 'bootstrap-admin.code');
  });

  after(async () => {
    resetLogDestination();
    await policy?.close();
    await nats?.dispose();
  });

  it('writes the code to a 0600 file, logs the file but never the code, and offers the methods', async () => {
    assert.equal(statSync(codeFile).mode & 0o777, 0o600);
    const code = readFileSync(codeFile, 'utf8').trim();
    assert.match(code, /^[A-Za-z0-9_-]{27}$/);
    assert.match(log, /bootstrap administrator ENABLED/);
    assert.ok(log.includes(codeFile), 'the log names the file');
    assert.ok(!log.includes(code), 'the code never reaches the log');
    const methods = await fetch(`${policy.url}/v1/auth/methods`);
    assert.equal(methods.status, 200);
    assert.deepEqual(await methods.json(), { ldap: false, breakGlassToken: true, bootstrap: true });
  });

  it('a wrong code is 401 and audited; the right code, fired 8 times at once, gives exactly one session', async () => {
    const wrong = await post(`${policy.url}/v1/auth/bootstrap`, { code: 'not-the-code' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.field, 'code');
    assert.equal(wrong.cookie, null);

    const code = readFileSync(codeFile, 'utf8').trim();
    const results = await Promise.all(
      Array.from({ length: 8 }, () => post(`${policy.url}/v1/auth/bootstrap`, { code })),
    );
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)));
    assert.ok(results.every((r) => r.status === 200 || r.status === 401 || r.status === 429));
    const session = ok[0];
    assert.equal(session.body.user, 'bootstrap-admin');
    assert.equal(session.body.role, 'admin');
    assert.match(session.cookie ?? '', /^tapgate_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
    assert.equal(existsSync(codeFile), false, 'a spent code leaves no file behind');

    // The cookie session administers (CSRF token echoed), and the code cannot be used again.
    const cookie = (session.cookie ?? '').split(';')[0];
    const created = await fetch(`${policy.url}/v1/terminals`, {
      method: 'POST',
      headers: {
        cookie,
        'x-csrf-token': String(session.body.csrfToken),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ terminalId: 'BOOT-T1' }),
    });
    assert.equal(created.status, 201, await created.text());
    const again = await post(`${policy.url}/v1/auth/bootstrap`, { code });
    assert.ok(again.status === 401 || again.status === 429, String(again.status));
    const methods = (await (await fetch(`${policy.url}/v1/auth/methods`)).json()) as Body;
    assert.equal(methods.bootstrap, false);
    assert.ok(!log.includes(code), 'no exchange, right or wrong, logs the code');

    const audit = await policy.api('GET', '/v1/audit/admin?limit=100');
    const records = (audit.body as unknown as { items: Array<{ action: string; actor: string }> }).items;
    const actions = records.map((r) => `${r.action}:${r.actor}`);
    assert.ok(actions.includes('admin.bootstrap_login:bootstrap-admin'), actions.join(' '));
    assert.ok(actions.includes('admin.login_failed:bootstrap-admin'), actions.join(' '));
    assert.ok(
      actions.some((a) => a.startsWith('terminal.') && a.endsWith(':bootstrap-admin')),
      `the change is recorded under the bootstrap administrator: ${actions.join(' ')}`,
    );
  });

  it('the break-glass token typed on the login page becomes a session; a wrong one is 401 then throttled', async () => {
    const ok = await post(`${policy.url}/v1/auth/token-login`, { token: policy.token });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.role, 'admin');
    const me = await fetch(`${policy.url}/v1/auth/me`, {
      headers: { cookie: (ok.cookie ?? '').split(';')[0] },
    });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as Body).via, 'session');

    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push(
        (await post(`${policy.url}/v1/auth/token-login`, { token: `wrong-${i}-${'x'.repeat(30)}` })).status,
      );
    }
    assert.equal(statuses[0], 401);
    assert.ok(statuses.includes(429), `guessing is slowed down: ${statuses.join(',')}`);
    const bad = await post(`${policy.url}/v1/auth/token-login`, { token: '' });
    assert.equal(bad.status, 400);
  });
});

describe('bootstrap administrator code lifetime', () => {
  it('an expired code is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tapgate-boot-'));
    let now = 1_000_000;
    const code = BootstrapAdminCode.issue(join(dir, 'code'), 60_000, () => now);
    const text = readFileSync(join(dir, 'code'), 'utf8').trim();
    now += 60_000;
    assert.equal(code.consume(text), false);
    assert.equal(code.live, false);
    rmSync(dir, { recursive: true, force: true });
  });
});
