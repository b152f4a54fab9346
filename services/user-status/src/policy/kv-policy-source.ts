import {
  BUILT_IN_POLICY,
  KvBuckets,
  PolicyRecord,
  effectivePolicy,
  type PolicySettings,
} from '@tapgate/contracts';
import { KvCache, type Messaging } from '@tapgate/messaging';
import { validatePolicy, type PolicySource, type UserStatusPolicy } from './policy-source';

/**
 * The Active Directory section of the policies in the policy service's KV bucket, fed by a watch so a
 * change applies to the next request (well within a second). user-status must decide about its cache
 * before it knows a user's groups, so it applies the default policy's section; until the bucket is
 * loaded, or while it holds no default policy, the configured values ([user_status]) apply.
 */
export class KvPolicySource implements PolicySource {
  private readonly cache: KvCache<PolicyRecord>;
  private readonly listeners = new Set<(p: UserStatusPolicy) => void>();
  private policy: UserStatusPolicy;

  private configured: UserStatusPolicy;

  constructor(messaging: Messaging, configured: UserStatusPolicy) {
    this.configured = validatePolicy(configured);
    this.policy = validatePolicy(configured);
    this.cache = new KvCache(messaging, KvBuckets.policies, PolicyRecord);
    this.cache.onChange(() => this.recompute());
  }

  start(): this {
    this.cache.start();
    return this;
  }

  stop(): void {
    this.cache.stop();
  }

  /** True once the bucket's initial contents are loaded. */
  loaded(): boolean {
    return this.cache.ready();
  }

  current(): UserStatusPolicy {
    return this.policy;
  }

  onChange(cb: (policy: UserStatusPolicy) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Changes the configured fallback (an operator hook, and tests); a default policy still wins. */
  update(change: Partial<UserStatusPolicy>): void {
    this.configured = validatePolicy({ ...this.configured, ...change });
    this.recompute();
  }

  private recompute(): void {
    const base: PolicySettings = { ...BUILT_IN_POLICY, activeDirectory: { ...this.configured } };
    const defaults = [...this.cache.values()].filter((p) => p.kind === 'default');
    // The fallback may hold any expiry 1-86400 s (config); policies only the console's choices.
    const ad = effectivePolicy(defaults, {}, base).settings.activeDirectory;
    const next = validatePolicy(ad);
    const prev = this.policy;
    if (
      prev.checkUserStatus === next.checkUserStatus &&
      prev.cacheUserStatus === next.cacheUserStatus &&
      prev.cacheExpirySeconds === next.cacheExpirySeconds
    ) {
      return;
    }
    this.policy = next;
    for (const cb of this.listeners) cb(next);
  }
}
