import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChallengeStore } from './challenge-store';

const TTL_MS = 30_000;

describe('challenge store of one endpoint socket', () => {
  it('accepts a fresh challenge once, then names a replay as such', () => {
    const store = new ChallengeStore(TTL_MS);
    const { challenge, expiresAt } = store.issue(1_000);
    assert.equal(Date.parse(expiresAt), 1_000 + TTL_MS);
    assert.equal(store.consume(challenge, 2_000), 'ok');
    assert.equal(store.consume(challenge, 2_001), 'replayed');
    assert.equal(store.consume('never-issued', 2_002), 'unknown');
  });

  it('refuses a challenge used after its expiry as expired, and only once', () => {
    const store = new ChallengeStore(TTL_MS);
    const { challenge } = store.issue(1_000);
    assert.equal(store.consume(challenge, 1_000 + TTL_MS + 1), 'expired');
    assert.equal(store.consume(challenge, 1_000 + TTL_MS + 2), 'unknown');
  });

  it('keeps the newest 8 outstanding, any of them usable, expired ones still named as expired', () => {
    const store = new ChallengeStore(TTL_MS);
    const issued = Array.from({ length: 10 }, (_, i) => store.issue(i * 20_000).challenge);
    const now = 9 * 20_000;
    // The two oldest were dropped for newer ones.
    assert.equal(store.consume(issued[0], now), 'unknown');
    assert.equal(store.consume(issued[1], now), 'unknown');
    // Issued at 40 s, expired at 70 s.
    assert.equal(store.consume(issued[2], now), 'expired');
    // A middle one and the newest, in any order.
    assert.equal(store.consume(issued[9], now), 'ok');
    assert.equal(store.consume(issued[8], now), 'ok');
    assert.equal(store.consume(issued[8], now), 'replayed');
  });

  it('asks for a fresh challenge when the newest expires within the margin', () => {
    const store = new ChallengeStore(TTL_MS);
    assert.equal(store.needsRefresh(0, 10_000), true);
    store.issue(0);
    assert.equal(store.needsRefresh(19_999, 10_000), false);
    assert.equal(store.needsRefresh(20_001, 10_000), true);
  });
});
