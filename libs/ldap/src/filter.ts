import type { UserRef } from '@tapgate/contracts';
import { AndFilter, EqualityFilter, OrFilter, SubstringFilter, type Filter } from 'ldapts';
import { guidToBytes } from './identity';

// The one place LDAP search filters are built (user-status's lookups and the policy service's
// administrator login). Filters are ldapts Filter objects, sent as BER: every value travels as the exact
// octets given (UTF-8 for names, the 16 raw bytes of an objectGUID). A filter *string* would be parsed
// again by ldapts, which turns each `\XX` escape into one Latin-1 character: a non-ASCII name escaped
// byte by byte then reaches the server as different UTF-8 and never matches.

/** `(attribute=value)`: the value is matched literally (no wildcards, no filter syntax). */
export function equals(attribute: string, value: string | Buffer): Filter {
  return new EqualityFilter({ attribute, value });
}

/** Matches user accounts only (not computers, contacts or groups). */
const userClass = (): Filter[] => [equals('objectCategory', 'person'), equals('objectClass', 'user')];

/** `(sAMAccountName=…)` or `(userPrincipalName=…)`. */
function nameMatch(name: UserRef): Filter {
  return 'sAMAccountName' in name
    ? equals('sAMAccountName', name.sAMAccountName)
    : equals('userPrincipalName', name.userPrincipalName);
}

/** The user whose sAMAccountName or userPrincipalName is exactly this (AD compares case-insensitively). */
export function userFilter(name: UserRef): Filter {
  return new AndFilter({ filters: [...userClass(), nameMatch(name)] });
}

/**
 * In one search: the object with this objectGUID and whatever user now holds `name`. An enrollment's
 * check needs both: the object it is bound to, and whether its recorded name now belongs to another.
 */
export function boundUserFilter(objectGUID: string, name: UserRef): Filter {
  return new AndFilter({
    filters: [
      ...userClass(),
      new OrFilter({ filters: [equals('objectGUID', guidToBytes(objectGUID)), nameMatch(name)] }),
    ],
  });
}

/** `(attribute=value*)`: the value is a literal prefix (its `*`, `(`… match themselves). */
function startsWith(attribute: string, prefix: string): Filter {
  return new SubstringFilter({ attribute, initial: prefix });
}

/** The attributes a directory search (the console's Users page) matches a prefix against. */
export const USER_SEARCH_ATTRIBUTES = ['sAMAccountName', 'displayName', 'mail'] as const;

/**
 * Users whose sAMAccountName, displayName or mail starts with `text` (AD compares case-insensitively).
 * The text is a literal prefix, never filter syntax: `*` in it matches a `*`.
 */
export function userSearchFilter(text: string): Filter {
  return new AndFilter({
    filters: [
      ...userClass(),
      new OrFilter({ filters: USER_SEARCH_ATTRIBUTES.map((a) => startsWith(a, text)) }),
    ],
  });
}

/** The group named `name`: its CN, its sAMAccountName or its whole DN, as group policies name groups. */
export function groupFilter(name: string): Filter {
  return new AndFilter({
    filters: [
      equals('objectClass', 'group'),
      new OrFilter({
        filters: [equals('cn', name), equals('sAMAccountName', name), equals('distinguishedName', name)],
      }),
    ],
  });
}

/**
 * RFC 4515 text of a filter built here, for logs and tests: ldapts escapes only `*`, `(`, `)`, `\` and
 * NUL of a string value (as `\2a` `\28` `\29` `\5c` `\00`), passes UTF-8 through, and escapes every
 * byte of a binary one.
 */
export function filterText(filter: Filter): string {
  return filter.toString();
}
