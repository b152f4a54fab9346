import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FILETIME_NEVER, dateToFileTime, fileTimeToDate, parseAdInteger } from './filetime';
import { STATUS_PRECEDENCE, statusFromAttributes } from './rules';

const now = new Date('2025-06-01T12:00:00Z');
const ft = (d: Date) => dateToFileTime(d).toString();
const active = {
  userAccountControl: '512',
  'msDS-User-Account-Control-Computed': '0',
  pwdLastSet: ft(new Date('2025-05-20T08:00:00Z')),
  accountExpires: FILETIME_NEVER.toString(),
};
const judge = (over: Record<string, string | undefined>) =>
  statusFromAttributes({ ...active, ...over }, now).status;

describe('FILETIME', () => {
  it('converts both ways at millisecond precision', () => {
    const d = new Date('2024-02-29T23:59:59.123Z');
    assert.equal(fileTimeToDate(dateToFileTime(d)).toISOString(), d.toISOString());
    assert.equal(dateToFileTime(new Date('1601-01-01T00:00:00Z')), 0n);
    assert.equal(dateToFileTime(new Date('1970-01-01T00:00:00Z')), 116_444_736_000_000_000n);
  });
  it('parses only plain decimal integers', () => {
    assert.equal(parseAdInteger('9223372036854775807'), FILETIME_NEVER);
    assert.equal(parseAdInteger('-1'), -1n);
    for (const bad of [undefined, '', ' ', '1e5', '12abc', '0x10', '1.5', '123456789012345678901']) {
      assert.equal(parseAdInteger(bad), undefined, String(bad));
    }
  });
});

describe('statusFromAttributes', () => {
  it('an account in good standing is active', () => {
    assert.equal(judge({}), 'active');
    assert.equal(judge({ userAccountControl: String(0x200 | 0x10000) }), 'active');
  });

  it('userAccountControl 0x2 is disabled', () => {
    assert.equal(judge({ userAccountControl: '514' }), 'disabled');
    assert.equal(judge({ userAccountControl: String(0x2 | 0x10000 | 0x200) }), 'disabled');
  });

  it('computed 0x10 is locked out, whatever lockoutTime says', () => {
    assert.equal(judge({ 'msDS-User-Account-Control-Computed': '16' }), 'locked_out');
    assert.equal(judge({ lockoutTime: ft(now) }), 'active');
  });

  it('computed 0x800000 is password expired', () => {
    assert.equal(judge({ 'msDS-User-Account-Control-Computed': String(0x800000) }), 'password_expired');
  });

  it('pwdLastSet = 0 is must change password, even though AD also sets 0x800000 (dave)', () => {
    assert.equal(judge({ pwdLastSet: '0' }), 'must_change_password');
    assert.equal(
      judge({ pwdLastSet: '0', 'msDS-User-Account-Control-Computed': '8388608' }),
      'must_change_password',
    );
  });

  it('accountExpires in the past is account expired; 0 and 2^63-1 are never', () => {
    assert.equal(judge({ accountExpires: ft(new Date(now.getTime() - 1)) }), 'account_expired');
    assert.equal(judge({ accountExpires: ft(now) }), 'account_expired');
    assert.equal(judge({ accountExpires: ft(new Date(now.getTime() + 1)) }), 'active');
    assert.equal(judge({ accountExpires: '0' }), 'active');
    assert.equal(judge({ accountExpires: '9223372036854775807' }), 'active');
  });

  it('applies the documented precedence when several states hold', () => {
    const all = {
      userAccountControl: '514',
      accountExpires: '1',
      'msDS-User-Account-Control-Computed': String(0x10 | 0x800000),
      pwdLastSet: '0',
    };
    const seen: string[] = [];
    const attrs: Record<string, string> = { ...all };
    // Clear the winning condition one at a time: the next state in the list must take over.
    const clear: Record<string, () => void> = {
      disabled: () => (attrs.userAccountControl = '512'),
      account_expired: () => (attrs.accountExpires = '0'),
      locked_out: () => (attrs['msDS-User-Account-Control-Computed'] = String(0x800000)),
      must_change_password: () => (attrs.pwdLastSet = '133000000000000000'),
      password_expired: () => (attrs['msDS-User-Account-Control-Computed'] = '0'),
    };
    for (;;) {
      const s = statusFromAttributes(attrs, now).status;
      seen.push(s);
      if (s === 'active') break;
      clear[s]();
    }
    assert.deepEqual(seen, [...STATUS_PRECEDENCE, 'active']);
  });

  it('fails closed on missing or malformed attributes', () => {
    for (const key of Object.keys(active)) {
      for (const bad of [undefined, 'garbage', '']) {
        const out = statusFromAttributes({ ...active, [key]: bad }, now);
        assert.equal(out.status, 'unavailable', `${key}=${String(bad)}`);
        assert.match(out.problem ?? '', new RegExp(key));
      }
    }
    assert.equal(judge({ accountExpires: '-5' }), 'unavailable');
    assert.equal(judge({ accountExpires: '9223372036854775808' }), 'unavailable');
    assert.equal(judge({ pwdLastSet: '-1' }), 'unavailable');
  });

  it('still reports a refusal that an earlier rule proves when a later attribute is unusable', () => {
    assert.equal(
      judge({ userAccountControl: '514', 'msDS-User-Account-Control-Computed': undefined }),
      'disabled',
    );
  });
});
