import type { BaselineSettings } from '@tapgate/contracts';

/** The Active Directory part of a policy (the guide's "Check User Status" group), as enforced. */
export type UserStatusPolicy = BaselineSettings['activeDirectory'];

/** The AD settings in force for one user. */
export interface UserPolicy {
  settings: UserStatusPolicy;
  /**
   * True when the groups were not given and some field of the policy depends on them (a group policy
   * sets it and the user's own policy does not): `settings` then must not be acted on without reading
   * the user's groups, which the answer carries to the gateway.
   */
  groupsNeeded: boolean;
}

/**
 * Where the policy comes from. The service asks `forUser` on every request, so a policy change applies
 * to the next request, cached entries included; `onChange` is for logging.
 */
export interface PolicySource {
  forUser(who: { sAMAccountName?: string; groups?: readonly string[] }): UserPolicy;
  /** What applies to a user whom no group or user policy names (the baseline < the default policy). */
  current(): UserStatusPolicy;
  onChange(cb: (policy: UserStatusPolicy) => void): () => void;
  /**
   * The policies bucket's revision in force (KvCache.revision), for answers a gateway may reuse; a source
   * without one (undefined) lets no answer be reused.
   */
  revision?(): number | undefined;
}

export function validatePolicy(p: UserStatusPolicy): UserStatusPolicy {
  if (!Number.isInteger(p.cacheExpirySeconds) || p.cacheExpirySeconds < 1 || p.cacheExpirySeconds > 86_400) {
    throw new Error(`cacheExpirySeconds must be an integer 1-86400 (got ${p.cacheExpirySeconds})`);
  }
  return Object.freeze({ ...p });
}
