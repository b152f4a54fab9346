import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode, MAX_RECONNECT_HINT_MS, encodeReconnectHint, parseReconnectHint } from './index';

describe('reconnect hint (close codes 1012 and 1013)', () => {
  it('round-trips a delay and fits a close reason', () => {
    const reason = encodeReconnectHint(1234);
    assert.equal(reason, '{"reconnectAfterMs":1234}');
    assert.ok(Buffer.byteLength(reason) <= 123);
    assert.equal(parseReconnectHint(CloseCode.ServiceRestart, reason), 1234);
    assert.equal(parseReconnectHint(1012, encodeReconnectHint(0)), 0);
  });

  it('is read after 1013 (not ready yet) as after 1012', () => {
    assert.equal(parseReconnectHint(CloseCode.TryAgainLater, encodeReconnectHint(700)), 700);
    assert.equal(parseReconnectHint(1013, 'try again later'), undefined);
  });

  it('bounds what it encodes and what it accepts to MAX_RECONNECT_HINT_MS', () => {
    assert.equal(encodeReconnectHint(-5), '{"reconnectAfterMs":0}');
    assert.equal(encodeReconnectHint(1e12), `{"reconnectAfterMs":${MAX_RECONNECT_HINT_MS}}`);
    assert.equal(parseReconnectHint(1012, '{"reconnectAfterMs":999999999}'), MAX_RECONNECT_HINT_MS);
  });

  it('ignores the reason of any other close code', () => {
    for (const code of [1000, 1001, 1006, 1011, 4001]) {
      assert.equal(parseReconnectHint(code, '{"reconnectAfterMs":10}'), undefined, String(code));
    }
  });

  it('treats a missing or malformed hint as no hint (the usual backoff applies)', () => {
    const bad = [
      '',
      'server shutting down',
      '{',
      'null',
      '[]',
      '42',
      '"reconnectAfterMs"',
      '{}',
      '{"reconnectAfterMs":null}',
      '{"reconnectAfterMs":"100"}',
      '{"reconnectAfterMs":-1}',
      '{"reconnectAfterMs":1.5}',
      '{"reconnectAfterMs":1e400}',
      '{"reconnectAfterms":100}',
      `{"reconnectAfterMs":100,"pad":"${'x'.repeat(120)}"}`,
    ];
    for (const reason of bad) assert.equal(parseReconnectHint(1012, reason), undefined, reason);
  });

  it('accepts unknown extra fields (later protocol versions may add some)', () => {
    assert.equal(parseReconnectHint(1012, '{"reconnectAfterMs":50,"replica":"gw-1"}'), 50);
  });
});
