import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BerWriter } from 'ldapts';
import { boundUserFilter, equals, filterText, groupFilter, userFilter, userSearchFilter } from './filter';

/** A value as it appears in the RFC 4515 text of `(a=value)`. */
const escapeFilterValue = (v: string | Buffer) => filterText(equals('a', v)).slice(3, -1);

/** The BER bytes ldapts sends for a filter: what the directory really receives. */
function wire(f: ReturnType<typeof equals>): Buffer {
  const w = new BerWriter();
  f.write(w);
  return w.buffer;
}

describe('filter values in RFC 4515 text', () => {
  it('escapes exactly * ( ) \\ and NUL', () => {
    assert.equal(escapeFilterValue('*'), '\\2a');
    assert.equal(escapeFilterValue('a(b)c'), 'a\\28b\\29c');
    assert.equal(escapeFilterValue('back\\slash'), 'back\\5cslash');
    assert.equal(escapeFilterValue('nul\0'), 'nul\\00');
    assert.equal(
      escapeFilterValue('Parens R Us (for all your parenthetical needs)'),
      'Parens R Us \\28for all your parenthetical needs\\29',
    );
  });

  it('passes UTF-8 and every other character through', () => {
    for (const v of ['müller', 'josé.ñ', '张伟', "o'brien", 'Lučić', 'alice@test.local', 'a-b_c.d']) {
      assert.equal(escapeFilterValue(v), v);
    }
  });

  it('escapes every byte of a binary value', () => {
    assert.equal(escapeFilterValue(Buffer.from([0x00, 0x2a, 0xff, 0x41])), '\\00\\2a\\ff\\41');
  });
});

describe('filters', () => {
  it('render as RFC 4515 text with the same escaping', () => {
    assert.equal(
      filterText(userFilter({ sAMAccountName: 'müller' })),
      '(&(objectCategory=person)(objectClass=user)(sAMAccountName=müller))',
    );
    assert.equal(
      filterText(userFilter({ userPrincipalName: 'a*b(x)@test.local' })),
      '(&(objectCategory=person)(objectClass=user)(userPrincipalName=a\\2ab\\28x\\29@test.local))',
    );
    assert.equal(
      filterText(boundUserFilter('00112233-4455-6677-8899-aabbccddeeff', { sAMAccountName: 'x' })),
      '(&(objectCategory=person)(objectClass=user)(|(objectGUID=\\33\\22\\11\\00\\55\\44\\77\\66\\88\\99\\aa\\bb\\cc\\dd\\ee\\ff)(sAMAccountName=x)))',
    );
  });

  it('send names as their UTF-8 octets and GUIDs as their 16 raw bytes', () => {
    const name = wire(equals('sAMAccountName', 'josé.ñ'));
    assert.ok(name.includes(Buffer.from('josé.ñ', 'utf8')), name.toString('hex'));
    assert.ok(!name.includes(Buffer.from('\\c3', 'latin1')));
    const guid = wire(boundUserFilter('00112233-4455-6677-8899-aabbccddeeff', { sAMAccountName: 'x' }));
    assert.ok(guid.includes(Buffer.from('33221100554477668899aabbccddeeff', 'hex')));
  });

  it('turns injection attempts into literal values', () => {
    for (const v of ['*)(uid=*', 'alice)(|(objectClass=*', ')(', '\\28', '*']) {
      const f = filterText(userFilter({ sAMAccountName: v }));
      assert.equal(f.split('(').length - 1, 4, f);
      assert.equal(f.split(')').length - 1, 4, f);
      // A literal value, not a presence or substring match.
      assert.ok(!/=\*/.test(f), f);
    }
  });

  it('search by prefix: a literal prefix of sAMAccountName, displayName or mail, never filter syntax', () => {
    assert.equal(
      filterText(userSearchFilter('mül')),
      '(&(objectCategory=person)(objectClass=user)(|(sAMAccountName=mül*)(displayName=mül*)(mail=mül*)))',
    );
    const f = filterText(userSearchFilter('*)(uid=*'));
    assert.ok(f.includes('(sAMAccountName=\\2a\\29\\28uid=\\2a*)'), f);
    const w = new BerWriter();
    userSearchFilter('josé').write(w);
    assert.ok(w.buffer.includes(Buffer.from('josé', 'utf8')), w.buffer.toString('hex'));
  });

  it('a group by CN, sAMAccountName or DN, literally', () => {
    assert.equal(
      filterText(groupFilter('Line 3 (night)')),
      '(&(objectClass=group)(|(cn=Line 3 \\28night\\29)(sAMAccountName=Line 3 \\28night\\29)(distinguishedName=Line 3 \\28night\\29)))',
    );
  });
});
