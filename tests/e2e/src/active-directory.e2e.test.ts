import { Platform, SEEDED_USERS, startSambaAd, waitFor, type SambaAd } from '@tapgate/testing';
import { UserStatusInvalidate } from '@tapgate/contracts';
import assert from 'node:assert/strict';
import { connect } from 'nats';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectTerminal, enrollBand, Nea, tap } from './harness';

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
});
