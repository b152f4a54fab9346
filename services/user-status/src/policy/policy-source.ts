/** The Active Directory part of the active policy (the guide's "Check User Status" group). */
export interface UserStatusPolicy {
  /** Off: every request is answered `not_configured`. */
  checkUserStatus: boolean;
  /** Off: every request goes to the directory. */
  cacheUserStatus: boolean;
  /** How long a cached status stays valid. Default 900 (15 min); the guide recommends 30. */
  cacheExpirySeconds: number;
}

export const DEFAULT_POLICY: UserStatusPolicy = {
  checkUserStatus: true,
  cacheUserStatus: true,
  cacheExpirySeconds: 900,
};

/**
 * Where the policy comes from. The service reads `current()` on every request, so a change applies to
 * the next request; `onChange` is for logging and for sources that push.
 */
export interface PolicySource {
  current(): UserStatusPolicy;
  onChange(cb: (policy: UserStatusPolicy) => void): () => void;
}

/**
 * Policy from configuration ([user_status] check_user_status, cache_user_status, cache_expiry_seconds)
 * until the policy service (issue 5) provides a KV-backed source. `update` lets an operator hook
 * (or a test) change it at run time.
 */
export class ConfigPolicySource implements PolicySource {
  private policy: UserStatusPolicy;
  private readonly listeners = new Set<(p: UserStatusPolicy) => void>();

  constructor(initial: Partial<UserStatusPolicy> = {}) {
    this.policy = validatePolicy({ ...DEFAULT_POLICY, ...initial });
  }

  current(): UserStatusPolicy {
    return this.policy;
  }

  update(change: Partial<UserStatusPolicy>): void {
    this.policy = validatePolicy({ ...this.policy, ...change });
    for (const cb of this.listeners) cb(this.policy);
  }

  onChange(cb: (policy: UserStatusPolicy) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
}

export function validatePolicy(p: UserStatusPolicy): UserStatusPolicy {
  if (!Number.isInteger(p.cacheExpirySeconds) || p.cacheExpirySeconds < 1 || p.cacheExpirySeconds > 86_400) {
    throw new Error(`cacheExpirySeconds must be an integer 1-86400 (got ${p.cacheExpirySeconds})`);
  }
  return Object.freeze({ ...p });
}
