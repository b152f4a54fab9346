import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeFilterValue, userFilter } from './ldap-filter';

describe('escapeFilterValue (RFC 4515)', () => {
  it('escapes the filter metacharacters and NUL', () => {
    assert.equal(escapeFilterValue('*'), '\\2a');
    assert.equal(escapeFilterValue('a(b)c'), 'a\\28b\\29c');
    assert.equal(escapeFilterValue('back\\slash'), 'back\\5cslash');
    assert.equal(escapeFilterValue('nul\0'), 'nul\\00');
  });
  it('escapes the RFC examples byte for byte', () => {
    assert.equal(
      escapeFilterValue('Parens R Us (for all your parenthetical needs)'),
      'Parens R Us \\28for all your parenthetical needs\\29',
    );
    assert.equal(escapeFilterValue('Lučić'), 'Lu\\c4\\8di\\c4\\87');
  });
  it('leaves ordinary account names alone', () => {
    assert.equal(escapeFilterValue('alice.o-neil_2'), 'alice.o-neil_2');
    assert.equal(escapeFilterValue('alice@test.local'), 'alice@test.local');
  });
  it('turns injection attempts into literal values', () => {
    const f = userFilter({ userPrincipalName: 'alice)(|(objectClass=*' });
    assert.equal(
      f,
      '(&(objectCategory=person)(objectClass=user)(userPrincipalName=alice\\29\\28|\\28objectClass=\\2a))',
    );
    // A filter stays balanced: exactly the parentheses the template adds.
    for (const v of ['*)(uid=*', ')(', '\\28', '*']) {
      const g = userFilter({ sAMAccountName: v });
      assert.equal(g.split('(').length - 1, 4, g);
      assert.equal(g.split(')').length - 1, 4, g);
      assert.ok(!/=\*/.test(g.replace('objectClass=user', '')), g);
    }
  });
});
