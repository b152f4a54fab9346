import type { UserRef } from '@tapgate/contracts';

/**
 * Escapes a value for an LDAP search filter (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL always,
 * and, to keep filters plain ASCII, every control character and every byte of a non-ASCII character
 * as `\XX` of its UTF-8 encoding, which the RFC allows for any octet.
 */
export function escapeFilterValue(value: string): string {
  let out = '';
  for (const byte of Buffer.from(value, 'utf8')) {
    const special = byte === 0x2a || byte === 0x28 || byte === 0x29 || byte === 0x5c;
    if (special || byte < 0x20 || byte >= 0x7f) out += `\\${byte.toString(16).padStart(2, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}

/** Matches user accounts only (not computers, contacts or groups). */
const USER_CLASS = '(objectCategory=person)(objectClass=user)';

/** The search filter that finds one user by sAMAccountName or userPrincipalName. */
export function userFilter(user: UserRef): string {
  if ('sAMAccountName' in user) {
    return `(&${USER_CLASS}(sAMAccountName=${escapeFilterValue(user.sAMAccountName)}))`;
  }
  return `(&${USER_CLASS}(userPrincipalName=${escapeFilterValue(user.userPrincipalName)}))`;
}
