import { signProof } from '@tapgate/band';
import { Platform, waitFor } from '@tapgate/testing';
import { createPrivateKey } from 'node:crypto';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectTerminal, enrollBand, Nea, tap } from './harness';

describe('end to end with every service as its own process: presence decides taps', () => {
  let platform: Platform;
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-e2e-'));
  before(async () => {
    platform = await Platform.start({
      dir,
      logLevel: 'warn',
      users: [
        { sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' },
        { sAMAccountName: 'erin', displayName: 'Erin Evans', state: 'active' },
      ],
    });
  });
  after(async () => {
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('grants only bands presence reports authenticated, refuses removed ones at once, and fails closed when presence cannot know', async (t) => {
    const ep = await connectTerminal(platform, 'E2E-T1');
    const nea = await Nea.open(platform, 'E2E-T1');
    t.after(async () => {
      // Closed even when an assertion fails: an endpoint left open reconnects forever.
      nea.close();
      await ep.stop();
    });
    const alice = await enrollBand(platform, 'alice');
    // Enrollment reaches every gateway through the KV watch; presence has not heard the band yet.
    await waitFor(async () => (await tap(ep, alice)).decision.reason === 'band_not_authenticated', {
      what: 'refused while presence has no adverts',
    });
    ep.adverts([alice.advert(-60)]);
    await waitFor(async () => (await tap(ep, alice)).decision.outcome === 'granted', {
      what: 'granted after adverts',
    });
    const seen = await nea.tapFor(alice.bandId);
    assert.equal(seen.data.decision.user?.displayName, 'Alice Able');

    // Taking the band off: the unclasped advert ends authentication immediately. A real band would stop
    // signing too; here the proof is made with its key directly, so only presence can refuse it.
    alice.remove();
    ep.adverts([alice.advert(-60)]);
    const key = createPrivateKey({ key: alice.privateJwk(), format: 'jwk' });
    const forged = () =>
      ep.tap({
        kind: 'nfc',
        bandId: alice.bandId,
        sign: (challenge, terminalId) =>
          signProof(key, { challenge, terminalId, bandId: alice.bandId, timestamp: Date.now() }),
      });
    await waitFor(async () => (await forged()).decision.reason === 'band_not_authenticated', {
      what: 'refused after removal',
    });

    // Presence's store down: the gateway cannot know, and policy's default is deny.
    const erin = await enrollBand(platform, 'erin');
    ep.adverts([erin.advert(-55)]);
    await waitFor(async () => (await tap(ep, erin)).decision.outcome === 'granted');
    await platform.redis.stop();
    try {
      const r = await tap(ep, erin);
      assert.equal(r.decision.outcome, 'refused');
      assert.equal(r.decision.reason, 'presence_unknown');
    } finally {
      await platform.redis.start();
    }
  });

  it('keeps presence across a presence replica restart (state lives in Redis)', async () => {
    const ep = await connectTerminal(platform, 'E2E-T2');
    const nea = await Nea.open(platform, 'E2E-T2');
    // Closed even when an assertion fails: an endpoint left open reconnects forever and the test file
    // would never exit.
    try {
      const alice = await enrollBand(platform, 'alice');
      // The band advertises until presence has stored it, as a real band does: the previous test
      // restarted Redis, and an advert that arrives before presence has reconnected is not stored.
      await waitFor(async () => {
        ep.adverts([alice.advert(-58)]);
        return (await tap(ep, alice)).decision.outcome === 'granted' || undefined;
      });
      await platform.process('presence').stop();
      const r = await tap(ep, alice);
      assert.equal(r.decision.reason, 'presence_unknown', 'no presence replica: fail closed');
      await platform.restart('presence');
      // No new adverts: the restarted replica answers from Redis.
      const again = await tap(ep, alice);
      assert.equal(again.decision.outcome, 'granted', JSON.stringify(again.decision));
    } finally {
      nea.close();
      await ep.stop();
    }
  });
});
