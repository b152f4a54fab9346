import { allGroupsOf, groupFilter, userFilter, userSearchFilter } from '@tapgate/ldap';
import { createLogger } from '@tapgate/telemetry';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import type { AdminDirectorySettings } from '../policy-settings';
import { text, texts, timeLimitSeconds, withServiceAccount } from './directory-client';

/** userAccountControl ACCOUNTDISABLE. */
const ACCOUNT_DISABLED = 0x2;

/** One user as a directory search lists it. */
export const DirectoryUser = z
  .object({
    sAMAccountName: z.string(),
    displayName: z.string().optional(),
    mail: z.string().optional(),
    enabled: z
      .boolean()
      .describe(
        "false when userAccountControl has ACCOUNTDISABLE (other refusals are user-status's to judge)",
      ),
  })
  .strict();
export type DirectoryUser = z.infer<typeof DirectoryUser>;

/** One user's directory attributes, for the Users page. */
export const DirectoryUserDetails = DirectoryUser.extend({
  dn: z.string(),
  groups: z
    .array(z.string())
    .describe(
      'every group DN: direct memberOf plus nested and primary groups (tokenGroups), as group policies see them',
    ),
});
export type DirectoryUserDetails = z.infer<typeof DirectoryUserDetails>;

export const DirectorySearchResult = z
  .object({
    items: z.array(DirectoryUser),
    truncated: z.boolean().describe('more users matched than `limit`: refine the text'),
  })
  .strict();
export type DirectorySearchResult = z.infer<typeof DirectorySearchResult>;

const USER_ATTRIBUTES = ['sAMAccountName', 'displayName', 'mail', 'userAccountControl'];

function userOf(e: Record<string, unknown>): DirectoryUser | undefined {
  const sam = text(e.sAMAccountName);
  if (!sam) return undefined;
  const uac = Number(text(e.userAccountControl) ?? '0');
  const displayName = text(e.displayName);
  const mail = text(e.mail);
  return {
    sAMAccountName: sam,
    ...(displayName !== undefined ? { displayName } : {}),
    ...(mail !== undefined ? { mail } : {}),
    enabled: (uac & ACCOUNT_DISABLED) === 0,
  };
}

/**
 * Reads users and groups from the [ldap] directory with the service account, for the console (search,
 * a user's attributes) and the warnings on saving a policy. Filters come from @tapgate/ldap only.
 * Without [ldap] every call fails with `directory_not_configured`; when the directory does not answer,
 * with `directory_unavailable` (503): a search never answers "nobody" for "could not ask".
 */
export class DirectorySearch {
  private readonly log = createLogger('directory-search');

  constructor(private readonly dir: AdminDirectorySettings | undefined) {}

  get configured(): boolean {
    return this.dir !== undefined;
  }

  private async run<T>(what: string, fn: (dir: AdminDirectorySettings) => Promise<T>): Promise<T> {
    const dir = this.dir;
    if (!dir) {
      throw new ApiError(
        'directory_not_configured',
        'no directory is configured: set [ldap] url, base_dn and the bind account to search Active Directory',
      );
    }
    try {
      return await fn(dir);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      this.log.warn({ err: (e as Error).message, what }, 'directory request failed');
      throw new ApiError(
        'directory_unavailable',
        `the directory (${dir.url}) did not answer the ${what}: ${(e as Error).name}; try again`,
      );
    }
  }

  /** Users whose sAMAccountName, displayName or mail starts with `prefix`, at most `limit`, by name. */
  search(prefix: string, limit: number): Promise<DirectorySearchResult> {
    return this.run('search', (dir) =>
      withServiceAccount(dir, async (c) => {
        const found = await c.search(dir.baseDn, {
          scope: 'sub',
          filter: userSearchFilter(prefix),
          attributes: USER_ATTRIBUTES,
          // One more than asked, to know whether there were more.
          sizeLimit: limit + 1,
          timeLimit: timeLimitSeconds(dir),
        });
        const users = found.searchEntries
          .map((e) => userOf(e))
          .filter((u): u is DirectoryUser => u !== undefined)
          .sort((a, b) => a.sAMAccountName.localeCompare(b.sAMAccountName));
        return { items: users.slice(0, limit), truncated: users.length > limit };
      }),
    );
  }

  /** One user's attributes and groups; undefined when the directory has no such user. */
  user(sAMAccountName: string): Promise<DirectoryUserDetails | undefined> {
    return this.run('user lookup', (dir) =>
      withServiceAccount(dir, async (c) => {
        const found = await c.search(dir.baseDn, {
          scope: 'sub',
          filter: userFilter({ sAMAccountName }),
          attributes: [...USER_ATTRIBUTES, 'memberOf'],
          sizeLimit: 2,
          timeLimit: timeLimitSeconds(dir),
        });
        if (found.searchEntries.length !== 1) return undefined;
        const e = found.searchEntries[0];
        const user = userOf(e);
        if (!user) return undefined;
        const groups = await allGroupsOf(c, dir.baseDn, e.dn, texts(e.memberOf), timeLimitSeconds(dir));
        return { ...user, dn: e.dn, groups };
      }),
    );
  }

  /** Whether a group of this CN, sAMAccountName or DN exists. */
  groupExists(name: string): Promise<boolean> {
    return this.run('group lookup', (dir) =>
      withServiceAccount(dir, async (c) => {
        const found = await c.search(dir.baseDn, {
          scope: 'sub',
          filter: groupFilter(name),
          attributes: ['dn'],
          sizeLimit: 1,
          timeLimit: timeLimitSeconds(dir),
        });
        return found.searchEntries.length > 0;
      }),
    );
  }
}
