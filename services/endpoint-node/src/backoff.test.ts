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

  it('starts over after a successful connection', () => {
    const b = new Backoff(100, 10_000, () => 0.999_999);
    b.next();
    b.next();
    b.reset();
    assert.equal(b.next(), 100);
  });
});
