import { groupMatches } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { allGroupsOf, userFilter } from '@tapgate/ldap';
import { InvalidCredentialsError } from 'ldapts';
import type { AdminDirectorySettings } from '../policy-settings';
import { openDirectory, texts, timeLimitSeconds } from '../users/directory-client';
import type { Role } from './principal';

export type LoginOutcome =
  | { ok: true; user: string; displayName?: string; role: Role }
  | { ok: false; why: 'bad_credentials' | 'not_in_group' | 'directory_unavailable' };

/**
 * Administrator login: find the user with the service account (filter from @tapgate/ldap's userFilter,
 * the same as user-status's), bind as that user with the password given, then require membership
 * (memberOf) of the admin group (or the viewer group, for read-only). Nested groups are not expanded.
 */
export class LdapLogin {
  private readonly log = createLogger('admin-login');

  constructor(
    private readonly dir: AdminDirectorySettings,
    private readonly adminGroup: string,
    private readonly viewerGroup: string | undefined,
  ) {}

  async login(sAMAccountName: string, password: string): Promise<LoginOutcome> {
    // An empty password is an LDAP "unauthenticated bind", which succeeds: never let it through.
    if (password.length === 0) return { ok: false, why: 'bad_credentials' };
    let entry: { dn: string; displayName?: string; sam: string; groups: string[] } | undefined;
    const svc = await openDirectory(this.dir).catch(() => undefined);
    if (!svc) return { ok: false, why: 'directory_unavailable' };
    try {
      await svc.bind(this.dir.bind.dn, this.dir.bind.password);
      const found = await svc.search(this.dir.baseDn, {
        scope: 'sub',
        filter: userFilter({ sAMAccountName }),
        attributes: ['sAMAccountName', 'displayName', 'memberOf'],
        sizeLimit: 2,
      });
      if (found.searchEntries.length === 1) {
        const e = found.searchEntries[0];
        entry = {
          dn: e.dn,
          sam: typeof e.sAMAccountName === 'string' ? e.sAMAccountName : sAMAccountName,
          displayName: typeof e.displayName === 'string' ? e.displayName : undefined,
          groups: await allGroupsOf(
            svc,
            this.dir.baseDn,
            e.dn,
            texts(e.memberOf),
            timeLimitSeconds(this.dir),
          ),
        };
      }
    } catch (e) {
      this.log.warn({ err: (e as Error).message }, 'directory search for administrator login failed');
      return { ok: false, why: 'directory_unavailable' };
    } finally {
      await svc.unbind().catch(() => undefined);
    }
    if (!entry) return { ok: false, why: 'bad_credentials' };
    const user = await openDirectory(this.dir).catch(() => undefined);
    if (!user) return { ok: false, why: 'directory_unavailable' };
    try {
      await user.bind(entry.dn, password);
    } catch (e) {
      if (e instanceof InvalidCredentialsError) return { ok: false, why: 'bad_credentials' };
      this.log.warn({ err: (e as Error).name }, 'administrator bind failed');
      return { ok: false, why: 'bad_credentials' };
    } finally {
      await user.unbind().catch(() => undefined);
    }
    const inGroup = (g: string | undefined) =>
      g !== undefined && entry.groups.some((x) => groupMatches(g, x));
    const role: Role | undefined = inGroup(this.adminGroup)
      ? 'admin'
      : inGroup(this.viewerGroup)
        ? 'viewer'
        : undefined;
    if (!role) return { ok: false, why: 'not_in_group' };
    return { ok: true, user: entry.sam, displayName: entry.displayName, role };
  }
}
