import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from './backoff';

describe('Backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const max = new Backoff(250, 30_000, () => 0.999_999);
    const caps = Array.from({ length: 10 }, () => max.next());
    assert.deepEqual(caps.slice(0, 4), [250, 500, 1000, 2000]);
    assert.equal(caps[9], 30_000);
    const min = new Backoff(250, 30_000, () => 0);
    assert.equal(min.next(), 0);
  });

  it('spreads 2,000 reconnecting terminals over the window instead of a thundering herd', () => {
    const delays = Array.from({ length: 2000 }, () => {
      const b = new Backoff();
      b.next();
      b.next();
      return b.next(); // third attempt: uniform in [0, 1000]
    });
    const buckets = [0, 0, 0, 0];
    for (const d of delays) buckets[Math.min(3, Math.floor(d / 250))]++;
    for (const n of buckets) assert.ok(n > 350 && n < 650, `bucket sizes ${buckets.join(',')}`);
  });

  it('keeps refused attempts early in an outage under 1 s, and grows as before after 30 s', () => {
    let now = 0;
    const b = new Backoff(250, 30_000, () => 0.999_999, { now: () => now });
    const early = Array.from({ length: 8 }, () => {
      now += 500;
      return b.next('refused');
    });
    assert.deepEqual(early, [250, 500, 1000, 1000, 1000, 1000, 1000, 1000]);
    // Anything that reached the gateway (a close, a timeout) doubles as usual, from its own first step:
    // the refusals before it do not count.
    assert.deepEqual(
      [b.next('other'), b.next('other'), b.next('refused'), b.next('other')],
      [250, 500, 1000, 1000],
    );
    now += 30_000;
    assert.equal(b.next('refused'), 30_000, 'a long outage is not probed every second');
  });

  it('counts the fast window from the first failure after a connection', () => {
    let now = 0;
    const b = new Backoff(250, 30_000, () => 0.999_999, { now: () => now });
    for (let i = 0; i < 10; i++) b.next('refused');
    now += 60_000;
    assert.equal(b.next('refused'), 30_000);
    b.reset();
    now += 5_000;
    assert.equal(b.next('refused'), 250);
    for (let i = 0; i < 5; i++) b.next('refused');
    now += 29_000;
    assert.equal(b.next('refused'), 1000);
  });

  it('never caps refused attempts below the first step, nor above the cap', () => {
    const pinned = new Backoff(1500, 1500, () => 0.999_999);
    assert.deepEqual([pinned.next('refused'), pinned.next('refused')], [1500, 1500]);
    const low = new Backoff(100, 400, () => 0.999_999, { refusedMaxMs: 5000 });
    assert.deepEqual([low.next('refused'), low.next('refused'), low.next('refused')], [100, 200, 400]);
  });

  it('spreads 2,000 terminals refused by a restarting gateway over 1 s', () => {
    // Each terminal has been refused several times: its next attempt is uniform in [0, 1000].
    const delays = Array.from({ length: 2000 }, () => {
      const b = new Backoff();
      for (let i = 0; i < 5; i++) b.next('refused');
      return b.next('refused');
    });
    assert.ok(Math.max(...delays) <= 1000);
    const buckets = [0, 0, 0, 0];
    for (const d of delays) buckets[Math.min(3, Math.floor(d / 250))]++;
    for (const n of buckets) assert.ok(n > 350 && n < 650, `bucket sizes ${buckets.join(',')}`);
  });

  it('starts over after a successful connection', () => {
    const b = new Backoff(100, 10_000, () => 0.999_999);
    b.next();
    b.next();
    b.reset();
    assert.equal(b.next(), 100);
  });
});
