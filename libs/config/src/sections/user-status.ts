import { boolean, integer, oneOf, optionalPath } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface UserStatusSettings {
  /** Where account states come from: Active Directory ([ldap]) or a YAML/JSON users file. */
  directory: 'ldap' | 'file';
  usersFile?: string;
  checkUserStatus: boolean;
  cacheUserStatus: boolean;
  cacheExpirySeconds: number;
  /** How long a `not_found` (or `identity_changed`) answer is cached: short, whatever the expiry. */
  negativeCacheSeconds: number;
  /** Redis command timeout for cache reads and writes. */
  cacheTimeoutMs: number;
  /** Bearer credential of the cache-invalidation API, read from admin_token_file. Secret: never log it. */
  admin?: { token: string };
}

const MIN_TOKEN_LENGTH = 24;

/** [user_status]: the user-status service and the baseline of the Active Directory policy fields. */
export const userStatusSection = defineSection({
  name: 'user_status',
  summary: 'user-status: directory choice, the Check User Status baseline, cache, admin token',
  fields: {
    directory: oneOf(['ldap', 'file'], 'ldap'),
    users_file: optionalPath(),
    check_user_status: boolean(true),
    cache_user_status: boolean(true),
    cache_expiry_seconds: integer({ default: 900, min: 1, max: 86_400 }),
    negative_cache_seconds: integer({ default: 15, min: 1, max: 60 }),
    cache_timeout_ms: integer({ default: 250, min: 10, max: 10_000 }),
    admin_token_file: optionalPath(),
  },
  build(v, at): UserStatusSettings {
    if (v.directory === 'file' && v.users_file === undefined) {
      throw at.error('users_file', 'required when directory = "file"', 'directory');
    }
    let admin: UserStatusSettings['admin'];
    if (v.admin_token_file !== undefined) {
      const token = at.readSecret('admin_token_file', v.admin_token_file);
      if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
        throw at.error(
          'admin_token_file',
          `${v.admin_token_file} must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces`,
        );
      }
      admin = { token };
    }
    return defined({
      directory: v.directory,
      usersFile: v.users_file,
      checkUserStatus: v.check_user_status,
      cacheUserStatus: v.cache_user_status,
      cacheExpirySeconds: v.cache_expiry_seconds,
      negativeCacheSeconds: v.negative_cache_seconds,
      cacheTimeoutMs: v.cache_timeout_ms,
      admin,
    });
  },
});
