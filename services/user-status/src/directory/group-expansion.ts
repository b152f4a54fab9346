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

/**
 * A binary SID as text (S-1-5-21-...), which AD and Samba accept in an objectSid filter. Escaped bytes
 * (RFC 4515 backslash-hex) do not survive ldapts's filter parser, which decodes them as UTF-8.
 */
export function sidToString(b: Buffer): string | undefined {
  if (b.length < 8 || b.length !== 8 + 4 * b[1]) return undefined;
  const authority = b.readUIntBE(2, 6);
  const subs = Array.from({ length: b[1] }, (_, i) => b.readUInt32LE(8 + 4 * i));
  return ['S', b[0], authority, ...subs].join('-');
}

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
  const text = sids.map(sidToString).filter((s): s is string => s !== undefined);
  if (text.length === 0) return [];
  const filter = `(&(objectClass=group)(|${text.map((s) => `(objectSid=${s})`).join('')}))`;
  const found = await client.search(baseDn, {
    scope: 'sub',
    filter,
    attributes: ['dn'],
    sizeLimit: 5000,
    timeLimit: timeLimitSeconds,
  });
  return found.searchEntries.map((e) => e.dn);
}
