import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sidToString } from './group-expansion';

describe('sidToString', () => {
  it('writes domain and builtin SIDs as AD does, and refuses malformed ones', () => {
    const domainUser = Buffer.from('010500000000000515000000b850eae7b9c87ef4893e45ee56040000', 'hex');
    assert.equal(sidToString(domainUser), 'S-1-5-21-3890892984-4101949625-3997515401-1110');
    assert.equal(sidToString(Buffer.from('01020000000000052000000021020000', 'hex')), 'S-1-5-32-545');
    assert.equal(sidToString(Buffer.from('0105000000', 'hex')), undefined, 'too short');
    assert.equal(sidToString(domainUser.subarray(0, 24)), undefined, 'sub-authority count disagrees');
  });
});
