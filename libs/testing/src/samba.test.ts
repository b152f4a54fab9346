import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'ldapts';
import { startSambaAd, type SambaAd } from './samba';

// The harness seeds what samba-ad.md measured; if Samba ever computes differently, this says so first.
describe('startSambaAd', () => {
  let ad: SambaAd;
  before(async () => {
    ad = await startSambaAd();
  });
  after(async () => {
    await ad?.dispose();
  });

  it('seeds every account state with the attributes AD computes', async () => {
    const alice = await ad.readUser('alice');
    assert.equal(alice.userAccountControl, '512');
    assert.equal(alice['msDS-User-Account-Control-Computed'], '0');
    assert.equal((await ad.readUser('bob')).userAccountControl, '514');
    const carol = await ad.readUser('carol');
    assert.ok(BigInt(carol.accountExpires) < BigInt(Date.now() + 11_644_473_600_000) * 10_000n);
    const dave = await ad.readUser('dave');
    assert.equal(dave.pwdLastSet, '0');
    assert.equal(dave['msDS-User-Account-Control-Computed'], String(0x800000));
    assert.equal((await ad.readUser('eve'))['msDS-User-Account-Control-Computed'], String(0x10));
    assert.equal((await ad.readUser('grace'))['msDS-User-Account-Control-Computed'], String(0x800000));
  });

  it('verifies the DC certificate against the CA file over LDAPS and StartTLS', async () => {
    const ldaps = new Client({ url: ad.ldapsUrl, tlsOptions: { ca: ad.ca } });
    await ldaps.bind(ad.serviceAccount.userPrincipalName, ad.serviceAccount.password);
    await ldaps.unbind();
    const plain = new Client({ url: ad.url });
    // With an existing socket, TLS checks the certificate against `host`; an IP may not be an SNI name.
    await plain.startTLS({ ca: ad.ca, host: '127.0.0.1' });
    await plain.bind(ad.serviceAccount.dn, ad.serviceAccount.password);
    await plain.unbind();
    const untrusted = new Client({ url: ad.ldapsUrl, connectTimeout: 2000 });
    await assert.rejects(untrusted.bind(ad.serviceAccount.dn, ad.serviceAccount.password));
  });

  it('stops and starts again with its state', async () => {
    await ad.createUser('frank', { displayName: 'Frank' });
    await ad.stop();
    const c = new Client({ url: ad.url, connectTimeout: 500 });
    await assert.rejects(c.bind(ad.serviceAccount.dn, ad.serviceAccount.password));
    await ad.start();
    assert.equal((await ad.readUser('frank')).userAccountControl, '512');
    await ad.disableUser('frank');
    assert.equal((await ad.readUser('frank')).userAccountControl, '514');
  });
});
