import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  MAX_CLIENT_FRAME_DEPTH,
  addressToken,
  decodeClientFrame,
  decodeServerFrame,
  encodeClientFrame,
  tapDeliverSubject,
} from './index';

describe('socket codec', () => {
  it('accepts a valid tap and types its data', () => {
    const r = decodeClientFrame(
      encodeClientFrame(
        'tap',
        { tapId: 't1', kind: 'nfc', bandId: 'band-1', at: '2026-11-29T10:00:00.000Z' },
        'r1',
      ),
    );
    assert.ok(r.ok);
    assert.equal(r.message.type, 'tap');
    assert.equal(r.message.ref, 'r1');
  });

  it('rejects a tap with neither band nor uid, naming the problem', () => {
    const r = decodeClientFrame(
      '{"v":1,"type":"tap","data":{"tapId":"t","kind":"nfc","at":"2026-11-29T10:00:00Z"}}',
    );
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'schema_violation');
    assert.match(JSON.stringify(r.error.issues), /bandId or uid/);
  });

  it('enroll.tap: a band (id, public key, proof) or a UID of 4, 7 or 10 bytes, never a mix', () => {
    const base = { tapId: 't', sessionId: 'sess-0123456789', kind: 'nfc', at: '2026-11-30T10:00:00Z' };
    const band = {
      bandId: 'band-1',
      publicKey: { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) },
      proof: { challenge: 'C'.repeat(43), timestamp: 1, terminalId: 'T-1', signature: 'D'.repeat(86) },
    };
    const frame = (data: unknown) => decodeClientFrame(JSON.stringify({ v: 1, type: 'enroll.tap', data }));
    assert.ok(frame({ ...base, ...band }).ok);
    for (const uid of ['04a1b2c3', '04A1B2C3D4E5F6', '00112233445566778899']) {
      assert.ok(frame({ ...base, uid }).ok, uid);
    }
    for (const bad of [
      { ...base, uid: '04a1b2' },
      { ...base, uid: '04a1b2c3d4e5' },
      { ...base, ...band, uid: '04a1b2c3' },
      { ...base, bandId: 'band-1', proof: band.proof },
      { ...base, ...band, publicKey: { ...band.publicKey, d: 'secret' } },
      { ...base, ...band, sessionId: 'a\nb-cdefgh' },
    ]) {
      const r = frame(bad);
      assert.ok(!r.ok && r.error.code === 'schema_violation', JSON.stringify(bad));
    }
  });

  it('never throws on hostile input', () => {
    for (const text of [
      '',
      'null',
      '"x"',
      '{"v":1,"type":"__proto__"}',
      '{"v":1,"type":"toString"}',
      '{'.repeat(10_000),
    ]) {
      const r = decodeClientFrame(text);
      assert.equal(r.ok, false, text.slice(0, 20));
    }
  });

  it('refuses frames nesting deeper than MAX_CLIENT_FRAME_DEPTH before parsing them', () => {
    const deep = (n: number) => `{"v":1,"type":"tap","data":${'['.repeat(n)}${']'.repeat(n)}}`;
    for (const text of [
      deep(16),
      `${'['.repeat(30_000)}${']'.repeat(30_000)}`,
      `${'{"a":'.repeat(17)}1${'}'.repeat(17)}`,
    ]) {
      const r = decodeClientFrame(text);
      assert.ok(!r.ok);
      assert.equal(r.error.code, 'malformed_json');
      assert.equal(r.error.message, `frame nests deeper than ${MAX_CLIENT_FRAME_DEPTH} levels`);
    }
    // Depth 15 is parsed (and then fails the schema), and brackets inside strings do not count.
    const shallow = decodeClientFrame(deep(15));
    assert.ok(!shallow.ok && shallow.error.code === 'schema_violation');
    const quoted = decodeClientFrame(`{"v":1,"type":"ping","ref":"${'[{'.repeat(30)}\\\\\\"["}`);
    assert.ok(quoted.ok, JSON.stringify(quoted));
  });

  it('reads server frames leniently about new optional fields but strictly about types', () => {
    const ok = decodeServerFrame('{"v":1,"type":"pong","ref":"p"}');
    assert.ok(!(ok instanceof Error));
    const newer = decodeServerFrame(
      '{"v":1,"type":"challenge","data":{"challenge":"abc","expiresAt":"2026-11-29T10:00:00Z","hint":1}}',
    );
    assert.ok(!(newer instanceof Error));
    const wrong = decodeServerFrame('{"v":1,"type":"challenge","data":{"challenge":5}}');
    assert.ok(wrong instanceof Error);
  });

  it('turns addresses into single subject tokens', () => {
    assert.equal(addressToken('::ffff:10.1.2.3'), '10_1_2_3');
    assert.equal(addressToken('fe80::1%eth0'), 'fe80__1_eth0');
    assert.equal(tapDeliverSubject('T-1', '10.1.2.3'), 'tapgate.v1.tap.deliver.T-1.10_1_2_3');
  });
});
