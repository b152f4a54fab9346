import type { Client, Entry } from 'ldapts';

/**
 * tokenGroups: the SIDs of every security group the account is in, nested groups and the primary group
 * (primaryGroupID) included, computed by the DC on a base-scope read of the user (the read that already
 * fetches msDS-User-Account-Control-Computed). Binary, hence asked for as buffers.
 */
export const TOKEN_GROUPS = 'tokenGroups';

/** The SIDs in a tokenGroups value (ldapts gives one Buffer, or an array of them). */
export function tokenGroupSids(entry: Entry): Buffer[] {
  const v = entry[TOKEN_GROUPS];
  if (Buffer.isBuffer(v)) return [v];
  return Array.isArray(v) ? v.filter((x): x is Buffer => Buffer.isBuffer(x)) : [];
}

/** A binary value in an LDAP filter: every byte as \xx (RFC 4515). */
const binaryFilterValue = (b: Buffer): string =>
  [...b].map((x) => `\\${x.toString(16).padStart(2, '0')}`).join('');

/**
 * The DNs of the groups whose objectSid is in `sids`: one subtree search for all of them. With the
 * direct memberOf DNs this gives every group a policy can name (distribution groups have no SID in
 * tokenGroups, but memberOf lists the direct ones).
 */
export async function groupDnsBySid(
  client: Client,
  baseDn: string,
  sids: readonly Buffer[],
  timeLimitSeconds: number,
): Promise<string[]> {
  if (sids.length === 0) return [];
  const filter = `(&(objectClass=group)(|${sids.map((s) => `(objectSid=${binaryFilterValue(s)})`).join('')}))`;
  const found = await client.search(baseDn, {
    scope: 'sub',
    filter,
    attributes: ['dn'],
    sizeLimit: 5000,
    timeLimit: timeLimitSeconds,
  });
  return found.searchEntries.map((e) => e.dn);
}
