import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { guidFromBytes, guidToBytes, sidFromBytes } from './identity';

describe('objectGUID and objectSid', () => {
  it('reads a GUID the way AD tools print it (first three groups little-endian)', () => {
    const bytes = Buffer.from('33221100554477668899aabbccddeeff', 'hex');
    assert.equal(guidFromBytes(bytes), '00112233-4455-6677-8899-aabbccddeeff');
    assert.deepEqual(guidToBytes('00112233-4455-6677-8899-AABBCCDDEEFF'), bytes);
    assert.throws(() => guidToBytes('00112233'), /objectGUID/);
    assert.throws(() => guidFromBytes(Buffer.alloc(15)), /16 bytes/);
  });

  it('reads a SID as S-1-5-21-…', () => {
    const sid = Buffer.from('010500000000000515000000dcf4dc3b833d2b46828ba62800020000', 'hex');
    assert.equal(sidFromBytes(sid), 'S-1-5-21-1004336348-1177238915-682003330-512');
    assert.throws(() => sidFromBytes(Buffer.from('0105', 'hex')), /not a SID/);
  });
});
