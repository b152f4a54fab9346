import type { Client, Entry } from 'ldapts';
import { sidFromBytes } from './identity';

/**
 * tokenGroups: the SIDs of every security group the account is in, nested groups and the primary group
 * (primaryGroupID) included, computed by the DC on a base-scope read of the user. Binary, hence asked for
 * as buffers (`explicitBufferAttributes`). One definition of "the user's groups" for group policies
 * (user-status) and administrator login (policy).
 */
export const TOKEN_GROUPS = 'tokenGroups';

/** The SIDs in a tokenGroups value (ldapts gives one Buffer, or an array of them). */
export function tokenGroupSids(entry: Entry): Buffer[] {
  const v = entry[TOKEN_GROUPS];
  if (Buffer.isBuffer(v)) return [v];
  return Array.isArray(v) ? v.filter((x): x is Buffer => Buffer.isBuffer(x)) : [];
}

function sidText(b: Buffer): string | undefined {
  try {
    return sidFromBytes(b);
  } catch {
    return undefined;
  }
}

/**
 * The DNs of the groups whose objectSid is in `sids`: one subtree search for all of them. SIDs go into the
 * filter as text (S-1-5-21-...), which AD and Samba accept; escaped bytes do not survive ldapts's filter
 * parser. With the direct memberOf DNs this gives every group a policy or the admin setting can name
 * (distribution groups have no SID in tokenGroups, but memberOf lists the direct ones).
 */
export async function groupDnsBySid(
  client: Client,
  baseDn: string,
  sids: readonly Buffer[],
  timeLimitSeconds: number,
): Promise<string[]> {
  const text = sids.map(sidText).filter((s): s is string => s !== undefined);
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

/**
 * Every group of the user at `userDn`: its direct memberOf DNs plus the groups of its tokenGroups (nested
 * and primary). One base read and one search.
 */
export async function allGroupsOf(
  client: Client,
  baseDn: string,
  userDn: string,
  memberOf: readonly string[],
  timeLimitSeconds: number,
): Promise<string[]> {
  const base = await client.search(userDn, {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: [TOKEN_GROUPS],
    explicitBufferAttributes: [TOKEN_GROUPS],
    timeLimit: timeLimitSeconds,
  });
  const sids = base.searchEntries.length === 1 ? tokenGroupSids(base.searchEntries[0]) : [];
  return [...new Set([...memberOf, ...(await groupDnsBySid(client, baseDn, sids, timeLimitSeconds))])];
}
