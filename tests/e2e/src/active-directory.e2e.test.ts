import {
  Platform,
  REPO_ROOT,
  SAMBA_USER_PASSWORD,
  SEEDED_USERS,
  makeTestPki,
  startSambaAd,
  waitFor,
  type SambaAd,
} from '@tapgate/testing';
import {
  UserStatusGet,
  UserStatusInvalidate,
  type EnrollmentRecord,
  type StatusAnswer,
  type UserRef,
} from '@tapgate/contracts';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net';
import { connect } from 'nats';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Attribute, Change } from 'ldapts';
import { connectTerminal, enrollBand, Nea, tap } from './harness';

/** Asks user-status over NATS, as the gateway and the policy service do. */
async function askStatus(natsUrl: string, user: UserRef, objectGUID?: string): Promise<StatusAnswer> {
  const nc = await connect({ servers: natsUrl });
  try {
    const reply = await nc.request(
      UserStatusGet.subject,
      new TextEncoder().encode(JSON.stringify({ v: 1, user, ...(objectGUID ? { objectGUID } : {}) })),
      { timeout: 5_000 },
    );
    return reply.json<StatusAnswer>();
  } finally {
    await nc.close();
  }
}

async function invalidate(natsUrl: string, sAMAccountName: string): Promise<void> {
  const nc = await connect({ servers: natsUrl });
  await nc.request(
    UserStatusInvalidate.subject,
    new TextEncoder().encode(JSON.stringify({ v: 1, user: { sAMAccountName } })),
  );
  await nc.close();
}

/** Runs a service's main.js until it exits (or 20 s pass); returns its exit code and stderr. */
function runUntilExit(
  script: string,
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, script)], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const REASON: Record<string, string> = {
  active: 'none',
  disabled: 'user_not_active',
  account_expired: 'user_not_active',
  must_change_password: 'user_not_active',
  locked_out: 'user_not_active',
  password_expired: 'user_not_active',
};

describe('end to end against a real Active Directory (Samba AD DC): the tap path asks user-status', () => {
  let samba: SambaAd;
  let platform: Platform;
  let forwarder: ReturnType<typeof createServer> | undefined;
  let pki: Awaited<ReturnType<typeof makeTestPki>> | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-e2e-ad-'));
  before(async () => {
    samba = await startSambaAd();
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: [],
      ldap: {
        url: samba.ldapsUrl,
        baseDn: samba.baseDn,
        bindDn: samba.serviceAccount.dn,
        bindPassword: samba.serviceAccount.password,
        caFile: samba.caFile,
      },
    });
  });
  after(async () => {
    forwarder?.close();
    pki?.dispose();
    await platform?.stop();
    await samba?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants alice and refuses every other seeded user with the status the directory computed', async () => {
    const ep = await connectTerminal(platform, 'AD-T1');
    const nea = await Nea.open(platform, 'AD-T1');
    for (const [user, status] of Object.entries(SEEDED_USERS)) {
      const band = await enrollBand(platform, user);
      ep.adverts([band.advert(-60)]);
      const r = await waitFor(async () => {
        const res = await tap(ep, band);
        return res.decision.reason === 'band_not_authenticated' ? undefined : res;
      });
      assert.equal(r.decision.status, status, user);
      assert.equal(r.decision.reason ?? 'none', REASON[status], user);
      assert.equal(r.decision.outcome, status === 'active' ? 'granted' : 'refused', user);
      const seen = await nea.tapFor(band.bandId);
      assert.equal(seen.data.decision.status, status);
    }
    nea.close();
    await ep.stop();
  });

  it('keeps granting from a valid cache entry while the directory is down, and refuses uncached users as unavailable', async () => {
    const ep = await connectTerminal(platform, 'AD-T2');
    const nea = await Nea.open(platform, 'AD-T2');
    const alice = await enrollBand(platform, 'alice');
    await samba.createUser('frank');
    const frank = await enrollBand(platform, 'frank');
    ep.adverts([alice.advert(-60)]);
    await waitFor(async () => (await tap(ep, alice)).decision.outcome === 'granted');
    // Enrolling frank asked user-status, which cached him: drop that entry, as an administrator would.
    const nc = await connect({ servers: platform.nats.url });
    const reply = await nc.request(
      UserStatusInvalidate.subject,
      new TextEncoder().encode(JSON.stringify({ v: 1, user: { sAMAccountName: 'frank' } })),
    );
    assert.equal(reply.json<{ removed: boolean }>().removed, true);
    await nc.close();
    await samba.stop();
    try {
      assert.equal((await tap(ep, alice)).decision.outcome, 'granted', 'cached alice');
      ep.adverts([frank.advert(-60)]);
      const r = await waitFor(async () => {
        const res = await tap(ep, frank);
        return res.decision.reason === 'band_not_authenticated' ? undefined : res;
      });
      assert.equal(r.decision.outcome, 'refused');
      assert.equal(r.decision.reason, 'status_unavailable');
      assert.equal(r.decision.status, 'unavailable');
    } finally {
      await samba.start();
    }
    nea.close();
    await ep.stop();
  });
  it('finds, enrolls, and logs in accounts with UTF-8 and filter characters in their names, CN and DN', async () => {
    // [sAMAccountName, CN, userPrincipalName]; '*' is not allowed in a sAMAccountName, so a*b is a CN and UPN.
    const people: Array<[string, string, string]> = [
      ['müller', 'Müller (x)', 'müller@test.local'],
      ['josé.ñ', 'José Ñ a*b', 'josé.ñ@test.local'],
      ['张伟', '张伟', '张伟@test.local'],
      ["o'brien", "O'Brien", "o'brien@test.local"],
      ['(x)', '(x)', '(x)@test.local'],
      ['a-b', 'a*b', 'a*b@test.local'],
    ];
    // A decoy a wildcard would also match: `a*b@test.local` must find only a-b.
    await samba.createUser('axxb', { userPrincipalName: 'axxb@test.local' });
    const dns = new Map<string, string>();
    for (const [sam, cn, upn] of people) {
      dns.set(sam, await samba.createUser(sam, { cn, userPrincipalName: upn, displayName: cn }));
    }
    const group = `CN=Tapgate Administrators,${samba.usersDn}`;
    await samba.asAdmin(async (c) => {
      await c.add(group, [
        new Attribute({ type: 'objectClass', values: ['top', 'group'] }),
        new Attribute({ type: 'sAMAccountName', values: ['Tapgate Administrators'] }),
      ]);
      await c.modify(
        group,
        new Change({
          operation: 'add',
          modification: new Attribute({ type: 'member', values: [...dns.values()] }),
        }),
      );
    });
    for (const [sam, , upn] of people) {
      for (const ref of [{ sAMAccountName: sam }, { userPrincipalName: upn }]) {
        const a = await askStatus(platform.nats.url, ref);
        assert.equal(a.status, 'active', `${JSON.stringify(ref)}: ${JSON.stringify(a)}`);
        assert.equal(a.user?.sAMAccountName, sam);
        assert.equal(a.user?.dn, dns.get(sam));
      }
      const band = await enrollBand(platform, sam);
      const record = await platform.api<EnrollmentRecord>('GET', `/v1/enrollments/${band.bandId}`);
      assert.equal(record.user.dn, dns.get(sam));
      assert.match(record.user.objectGUID ?? '', /^[0-9a-f-]{36}$/);
      assert.match(record.user.objectSid ?? '', /^S-1-5-21-/);
      const login = await fetch(`http://127.0.0.1:${platform.ports.policyHttp}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: sam, password: SAMBA_USER_PASSWORD }),
      });
      assert.equal(login.status, 200, `admin login as ${sam}: ${await login.text()}`);
    }
    const ep = await connectTerminal(platform, 'AD-UTF8');
    const nea = await Nea.open(platform, 'AD-UTF8');
    const band = await enrollBand(platform, 'müller');
    ep.adverts([band.advert(-60)]);
    const r = await waitFor(async () => {
      const res = await tap(ep, band);
      return res.decision.reason === 'band_not_authenticated' ? undefined : res;
    });
    assert.equal(r.decision.outcome, 'granted');
    assert.equal(r.decision.user?.dn, dns.get('müller'));
    nea.close();
    await ep.stop();
  });

  it('binds a band to the directory object: renamed keeps working, deleted is not_found, a re-used name is refused', async () => {
    const ep = await connectTerminal(platform, 'AD-ID');
    const nea = await Nea.open(platform, 'AD-ID');
    const tapOnce = async (band: Awaited<ReturnType<typeof enrollBand>>) => {
      ep.adverts([band.advert(-60)]);
      return (
        await waitFor(async () => {
          const res = await tap(ep, band);
          return res.decision.reason === 'band_not_authenticated' ? undefined : res;
        })
      ).decision;
    };
    const binding = (bandId: string) =>
      platform.api<{ state: string; current?: { sAMAccountName: string; dn: string } }>(
        'GET',
        `/v1/enrollments/${bandId}/binding`,
      );

    // The issue's reproduction: enroll f-rename, rename it to f-left, create someone else as f-rename.
    const fDn = await samba.createUser('f-rename', { displayName: 'Frank Original' });
    const f = await enrollBand(platform, 'f-rename');
    assert.equal((await tapOnce(f)).outcome, 'granted');
    await samba.renameAccount(fDn, 'f-left');
    await samba.createUser('f-rename', { cn: 'Newcomer Reused', displayName: 'Newcomer Reused' });
    await invalidate(platform.nats.url, 'f-rename');
    const reused = await tapOnce(f);
    assert.equal(reused.outcome, 'refused');
    assert.equal(reused.reason, 'identity_changed');
    assert.equal(reused.status, 'identity_changed');
    assert.doesNotMatch(reused.message ?? '', /Welcome|Newcomer/);
    assert.notEqual(reused.user?.dn, `CN=Newcomer Reused,${samba.usersDn}`);
    assert.equal((await binding(f.bandId)).state, 'identity_changed');

    // A CN (DN) rename keeps working and the decision carries the new DN; the console's fix updates it.
    const gDn = await samba.createUser('g-cn', { displayName: 'Gina Moved' });
    const g = await enrollBand(platform, 'g-cn');
    const movedDn = await samba.renameCn(gDn, 'Gina Moved');
    await invalidate(platform.nats.url, 'g-cn');
    const moved = await tapOnce(g);
    assert.equal(moved.outcome, 'granted', JSON.stringify(moved));
    assert.equal(moved.user?.dn, movedDn);
    const gb = await binding(g.bandId);
    assert.equal(gb.state, 'renamed');
    assert.equal(gb.current?.dn, movedDn);
    const updated = await platform.api<EnrollmentRecord>('POST', `/v1/enrollments/${g.bandId}/binding`, {});
    assert.equal(updated.user.dn, movedDn);
    assert.equal((await binding(g.bandId)).state, 'bound');

    // A sAMAccountName rename alone: still the same person, granted under the new name.
    const hDn = await samba.createUser('h-old', { displayName: 'Hank Renamed' });
    const h = await enrollBand(platform, 'h-old');
    await samba.renameAccount(hDn, 'h-new');
    await invalidate(platform.nats.url, 'h-old');
    const renamed = await tapOnce(h);
    assert.equal(renamed.outcome, 'granted', JSON.stringify(renamed));
    assert.equal(renamed.user?.sAMAccountName, 'h-new');

    // Deleted: not_found. Deleted and re-created under the same name: refused, until re-enrolled.
    await samba.createUser('i-del');
    const i = await enrollBand(platform, 'i-del');
    await samba.deleteUser('i-del');
    await invalidate(platform.nats.url, 'i-del');
    const deleted = await tapOnce(i);
    assert.equal(deleted.outcome, 'refused');
    assert.equal(deleted.status, 'not_found');
    assert.equal((await binding(i.bandId)).state, 'gone');

    await samba.createUser('j-rec', { displayName: 'Jill First' });
    const j = await enrollBand(platform, 'j-rec');
    await samba.deleteUser('j-rec');
    await samba.createUser('j-rec', { displayName: 'Jill Second' });
    await invalidate(platform.nats.url, 'j-rec');
    const recreated = await tapOnce(j);
    assert.equal(recreated.outcome, 'refused');
    assert.equal(recreated.reason, 'identity_changed');
    // The administrator re-enrolls the band to the account now named j-rec: granted again.
    await platform.api('POST', `/v1/enrollments/${j.bandId}/binding`, { user: { sAMAccountName: 'j-rec' } });
    const fixed = await tapOnce(j);
    assert.equal(fixed.outcome, 'granted');
    assert.equal(fixed.user?.displayName, 'Jill Second');
    nea.close();
    await ep.stop();
  });

  it('stops user-status and policy at start-up (exit 2) for a wrong LDAP CA or a URL host not on the certificate', async () => {
    pki = await makeTestPki();
    // 127.0.0.2 reaches the same DC through a forwarder, but the DC's certificate names only
    // 127.0.0.1, localhost and dc1.test.local.
    forwarder = createServer((inbound) => {
      const out = tcpConnect(636, '127.0.0.1');
      inbound.pipe(out).pipe(inbound);
      inbound.on('error', () => out.destroy());
      out.on('error', () => inbound.destroy());
    });
    await new Promise<void>((r) => forwarder!.listen(0, '127.0.0.2', r));
    const port = (forwarder.address() as AddressInfo).port;
    const base = { TAPGATE_CONFIG: join(dir, 'nymi_agent.toml'), TAPGATE_HTTP_PORT: '1' };
    for (const script of ['services/user-status/dist/main.js', 'services/policy/dist/main.js']) {
      const wrongCa = await runUntilExit(script, { ...base, TAPGATE_LDAP_CA_FILE: pki.ca.certFile });
      assert.equal(wrongCa.code, 2, `${script}: ${wrongCa.stderr}`);
      assert.match(
        wrongCa.stderr,
        /config error: .*\[ldap\]\.ca_file: .*not signed by a CA in \[ldap\]\.ca_file/,
      );
      assert.match(wrongCa.stderr, /issued by CN=Tapgate test AD CA/);
      const wrongHost = await runUntilExit(script, {
        ...base,
        TAPGATE_LDAP_URL: `ldaps://127.0.0.2:${port}`,
      });
      assert.equal(wrongHost.code, 2, `${script}: ${wrongHost.stderr}`);
      assert.match(
        wrongHost.stderr,
        /\[ldap\]\.url: .*the URL host "127\.0\.0\.2" is not among the names on the directory's certificate \(DNS:dc1\.test\.local, DNS:localhost, IP Address:127\.0\.0\.1\)/,
      );
      for (const out of [wrongCa.stderr, wrongHost.stderr]) assert.doesNotMatch(out, /use-system-ca/);
    }
  });
});
