import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SingleFlight } from './single-flight';

describe('SingleFlight', () => {
  it('shares one call among concurrent callers of a key and forgets it once settled', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    const slow = () => new Promise<number>((r) => setTimeout(() => r(++calls), 20));
    const results = await Promise.all(Array.from({ length: 10 }, () => flight.run('a', slow)));
    assert.deepEqual(new Set(results), new Set([1]));
    assert.equal(flight.size, 0);
    assert.equal(await flight.run('a', slow), 2);
  });
  it('keeps keys apart and shares failures too', async () => {
    const flight = new SingleFlight<number>();
    let calls = 0;
    const fail = () =>
      new Promise<number>((_, rej) => setTimeout(() => rej(new Error(`boom ${++calls}`)), 5));
    const settled = await Promise.allSettled([
      flight.run('a', fail),
      flight.run('a', fail),
      flight.run('b', fail),
    ]);
    assert.equal(calls, 2);
    assert.ok(settled.every((s) => s.status === 'rejected'));
  });
});
