import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Attribute, Change } from 'ldapts';
import { after, before, describe, it } from 'node:test';
import {
  SAMBA_USER_PASSWORD,
  createGroupMember,
  sambaLdapSettings,
  sleep,
  startNats,
  startSambaAd,
  type SambaAd,
  type TestServer,
} from '@tapgate/testing';
import { startPolicy, type PolicyHarness } from '../testing/policy-harness';

const ADMIN_GROUP = 'Tapgate Login Admins';
const ADMIN = 'tgadmin';

interface LoginReply {
  status: number;
  retryAfter: number | undefined;
  code: string | undefined;
  message: string | undefined;
}

/**
 * Administrator login attacked as the security review did it, against the real policy service and a real Samba AD,
 * over plain HTTP from chosen loopback source addresses (127.0.0.x), as separate clients would come.
 */
describe('administrator login: control characters, throttling by name and by address (Samba AD)', () => {
  let nats: TestServer;
  let samba: SambaAd;
  let policy: PolicyHarness;

  const login = (username: string, password: string, from: string): Promise<LoginReply> =>
    new Promise((resolve, reject) => {
      const url = new URL('/v1/auth/login', policy.url);
      const body = JSON.stringify({ username, password });
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          localAddress: from,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const parsed = (text ? JSON.parse(text) : {}) as { error?: { code: string; message: string } };
            const ra = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: ra === undefined ? undefined : Number(ra),
              code: parsed.error?.code,
              message: parsed.error?.message,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  /** Logs in as the administrator the way a person would: on 429, waits Retry-After and tries again. */
  const adminLogsIn = async (from: string): Promise<{ waitedMs: number; tries: number }> => {
    const started = Date.now();
    for (let tries = 1; tries <= 10; tries++) {
      const r = await login(ADMIN, SAMBA_USER_PASSWORD, from);
      if (r.status === 200) return { waitedMs: Date.now() - started, tries };
      assert.equal(r.status, 429, `admin login answered ${r.status} ${r.message ?? ''}`);
      await sleep((r.retryAfter ?? 1) * 1000);
    }
    throw new Error('the administrator never got in');
  };

  before(async () => {
    nats = await startNats();
    samba = await startSambaAd();
    await createGroupMember(samba, ADMIN_GROUP, ADMIN, 'Tapgate Login Admin');
    policy = await startPolicy(nats.url, {
      ldap: { ...sambaLdapSettings(samba), adminGroup: ADMIN_GROUP },
    });
  });

  after(async () => {
    await policy?.close();
    await samba?.dispose();
    await nats?.dispose();
  });

  it('admits an administrator whose membership of the admin group is nested (as group policies see it)', async () => {
    // nestadmin is in "Tapgate Nested Admins", which is itself a member of the admin group.
    const nestedDn = await createGroupMember(samba, 'Tapgate Nested Admins', 'nestadmin', 'Nested Admin');
    await samba.asAdmin(async (c) => {
      await c.modify(
        `CN=${ADMIN_GROUP},${samba.usersDn}`,
        new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [nestedDn] }) }),
      );
    });
    const r = await login('nestadmin', SAMBA_USER_PASSWORD, '127.0.0.31');
    assert.equal(r.status, 200, `nested administrator login answered ${r.status} ${r.message ?? ''}`);
    // Someone in no admin group at all still gets no session.
    await samba.createUser('notadmin', { displayName: 'Not An Admin' });
    const other = await login('notadmin', SAMBA_USER_PASSWORD, '127.0.0.32');
    assert.equal(other.status, 403);
  });

  it('refuses names with NUL, other controls or invisible characters with 400, before LDAP and without a bucket', async () => {
    const from = '127.0.0.11';
    const variants = [
      `${ADMIN}\u0000`,
      ...Array.from({ length: 13 }, (_, i) => ADMIN + '\u0000'.repeat(i + 1)),
      `${ADMIN}\u0000x`,
      `\u0000${ADMIN}`,
      `${ADMIN}\u0007`,
      `${ADMIN}\u007f`,
      `${ADMIN}\u0085`,
      `${ADMIN}\u200b`,
      `tg\u200dadmin`,
      `${ADMIN}\u200e`,
      `${ADMIN}\u2028`,
      `${ADMIN}\u2029`,
      `\ufeff${ADMIN}`,
      `${ADMIN}\u202e`,
    ];
    // Three rounds: 78 attempts with the right password from one address, far past every free budget.
    for (let round = 0; round < 3; round++) {
      for (const name of variants) {
        const r = await login(name, SAMBA_USER_PASSWORD, from);
        assert.equal(r.status, 400, `${JSON.stringify(name)} answered ${r.status}`);
        assert.equal(r.code, 'invalid_request');
        assert.match(
          r.message ?? '',
          /^username: contains a control or invisible character \(U\+[0-9A-F]{4}\)$/,
        );
      }
    }
    // None of them counted against the address or the name: the administrator gets in at once.
    const admin = await adminLogsIn(from);
    assert.equal(admin.tries, 1);
    console.log(
      `# ${variants.length * 3} control-character names refused with 400; admin then logged in at once`,
    );
    // A name that is only spaced or cased differently is the same name (trimmed, NFC), and logs in.
    const spaced = await login(`  ${ADMIN} `, SAMBA_USER_PASSWORD, '127.0.0.13');
    assert.equal(spaced.status, 200);
  });

  it('made-up names from one address slow that address down but do not lock the administrator out', async () => {
    const from = '127.0.0.12';
    const answers: number[] = [];
    // 30 failed logins with made-up names in a burst from the administrator's own address.
    for (let i = 0; i < 30; i++) answers.push((await login(`nobody${i}`, 'guess-1234', from)).status);
    const reachedLdap = answers.filter((s) => s === 401).length;
    const throttled = answers.filter((s) => s === 429).length;
    assert.equal(reachedLdap, 10, `answers: ${answers.join(',')}`);
    assert.equal(throttled, 20);
    const admin = await adminLogsIn(from);
    console.log(
      `# after 30 made-up-name failures from ${from} (10 reached LDAP, 20 throttled): ` +
        `the administrator got in after ${admin.waitedMs} ms in ${admin.tries} tries`,
    );
    // The address wait is capped at 8 s: the administrator waits at most that, never 300 s.
    assert.ok(admin.waitedMs <= 9500, `waited ${admin.waitedMs} ms`);
    // The guesser is still slowed down: the administrator's success did not forgive the address.
    assert.equal((await login('nobody99', 'guess-1234', from)).status, 429);
  });

  it('many failures against one name from many addresses are throttled, also when fired at once', async () => {
    // A made-up name: Samba's own lockout (3 bad binds) must not decide this test.
    const target = 'svc-target';
    const spellings = [target, target.toUpperCase(), ` ${target}`, `${target} `, 'Svc-Target'];
    const addresses = Array.from({ length: 24 }, (_, i) => `127.0.0.${40 + i}`);
    const answers = await Promise.all(
      addresses.map((from, i) => login(spellings[i % spellings.length], 'guess-1234', from)),
    );
    const statuses = answers.map((a) => a.status);
    // [policy].login_max_failures = 5 free failures for the name, however it is spelled, then waits.
    assert.equal(statuses.filter((s) => s === 401).length, 5, statuses.join(','));
    assert.equal(statuses.filter((s) => s === 429).length, 19, statuses.join(','));
    for (const a of answers.filter((x) => x.status === 429)) assert.ok((a.retryAfter ?? 0) >= 1);
    // The wait grows per failure: after 1 s one more attempt is let through, the next must wait 2 s.
    await sleep(1100);
    assert.equal((await login(target, 'guess-1234', '127.0.0.90')).status, 401);
    const next = await login(target, 'guess-1234', '127.0.0.91');
    assert.equal(next.status, 429);
    assert.equal(next.retryAfter, 2);
    console.log(
      `# 24 concurrent failures against one name from 24 addresses: 5 reached LDAP, 19 throttled; next wait 2 s`,
    );
  });
});
