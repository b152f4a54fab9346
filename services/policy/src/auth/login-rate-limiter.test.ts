import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../common/api-error';
import { parseLoginName } from './login-name';
import { LoginRateLimiter, loginBackoffPolicy } from './login-rate-limiter';

/** A limiter on a clock the test moves. */
function limiter(maxKeys = 10_000) {
  let now = 1_000_000;
  const l = new LoginRateLimiter(loginBackoffPolicy(5), () => now, maxKeys);
  return {
    l,
    advance: (ms: number) => void (now += ms),
    /** One attempt that fails; returns the Retry-After seconds when it was refused instead. */
    fail(name: string, from: string): number {
      const a = l.begin(name, from);
      if ('retryAfterSeconds' in a) return a.retryAfterSeconds;
      a.failed();
      return 0;
    },
  };
}

describe('login rate limiter (pure logic)', () => {
  it('lets a name fail 5 times, then makes it wait 1, 2, 4 ... 60 s, whatever the address', () => {
    const t = limiter();
    for (let i = 0; i < 5; i++) assert.equal(t.fail('tgadmin', `10.0.0.${i}`), 0);
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      const wait = t.fail('tgadmin', `10.0.1.${i}`);
      waits.push(wait);
      t.advance(wait * 1000);
      assert.equal(t.fail('tgadmin', `10.0.2.${i}`), 0);
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
  });

  it('slows an address after 10 failures with any names to at most 8 s, and a success keeps its count', () => {
    const t = limiter();
    for (let i = 0; i < 10; i++) assert.equal(t.fail(`nobody${i}`, '10.9.9.9'), 0);
    assert.equal(t.fail('tgadmin', '10.9.9.9'), 1);
    t.advance(1000);
    const ok = t.l.begin('tgadmin', '10.9.9.9');
    assert.ok(!('retryAfterSeconds' in ok));
    ok.succeeded();
    assert.equal(t.fail('nobody', '10.9.9.9'), 1, 'the success did not forgive the address');
    for (let i = 0; i < 10; i++) {
      t.advance(8000);
      t.fail(`x${i}`, '10.9.9.9');
    }
    assert.equal(t.fail('y', '10.9.9.9'), 8);
  });

  it('forgets after 15 minutes, voids directory outages, and bounds the keys it keeps', () => {
    const t = limiter(100);
    for (let i = 0; i < 6; i++) t.fail('a', '1.1.1.1');
    assert.ok(t.fail('a', '1.1.1.2') > 0);
    t.advance(15 * 60_000);
    assert.equal(t.fail('a', '1.1.1.3'), 0);
    const voided = t.l.begin('b', '2.2.2.2');
    assert.ok(!('retryAfterSeconds' in voided));
    voided.voided();
    for (let i = 0; i < 1000; i++) t.fail(`made-up-${i}`, `3.3.${i >> 8}.${i & 255}`);
    assert.deepEqual(t.l.size, { names: 100, addresses: 100 });
  });

  it('normalises names once: trim, NFC, lower-case key; control and invisible characters are a 400', () => {
    assert.deepEqual(parseLoginName('  TGAdmin '), { name: 'TGAdmin', key: 'tgadmin' });
    assert.deepEqual(parseLoginName('Jose\u0301'), { name: 'Jos\u00e9', key: 'jos\u00e9' });
    for (const bad of [
      'tgadmin\u0000',
      'tgadmin\u0000x',
      'tg\u200badmin',
      'a\u0085',
      'a\u2028',
      '\ufeffa',
      'a\u007f',
    ]) {
      assert.throws(
        () => parseLoginName(bad),
        (e: unknown) => e instanceof ApiError && e.status === 400 && e.field === 'username',
      );
    }
    assert.throws(
      () => parseLoginName('a/b'),
      (e: unknown) => e instanceof ApiError && e.status === 400,
    );
  });
});
