import { userStatusBaseline } from '@tapgate/config';
import {
  KvBuckets,
  POLICY_FIELDS,
  PolicyRecord,
  effectivePolicy,
  fieldsDecidedWithoutGroups,
} from '@tapgate/contracts';
import { KvCache, publishBaseline, type BaselinePublisher, type Messaging } from '@tapgate/messaging';
import { validatePolicy, type PolicySource, type UserPolicy, type UserStatusPolicy } from './policy-source';

/**
 * The policies in the policy service's KV bucket (watched, so a change applies to the next request,
 * well within a second), applied per user with effectivePolicy() over this replica's configured values
 * ([user_status]: its baseline), which it publishes so the policy service explains from the same values.
 */
export class KvPolicySource implements PolicySource {
  private readonly cache: KvCache<PolicyRecord>;
  private readonly listeners = new Set<(p: UserStatusPolicy) => void>();
  // Effective policies per (user, groups) until the next change: a handful of records, but per request.
  private readonly memo = new Map<string, UserPolicy>();
  private configured: UserStatusPolicy;
  private publisher: BaselinePublisher | undefined;
  private announced = '';

  /** `instance` names this replica in the baselines bucket; without it nothing is published (tests). */
  constructor(
    private readonly messaging: Messaging,
    configured: UserStatusPolicy,
    private readonly instance?: string,
  ) {
    this.configured = validatePolicy(configured);
    this.cache = new KvCache(messaging, KvBuckets.policies, PolicyRecord);
    this.cache.onChange(() => this.changed());
  }

  start(): this {
    this.cache.start();
    if (this.instance !== undefined) {
      const baseline = userStatusBaseline(this.configured);
      this.publisher = publishBaseline(this.messaging, {
        service: 'user-status',
        instance: this.instance,
        ...baseline,
      });
    }
    return this;
  }

  async stop(): Promise<void> {
    this.cache.stop();
    await this.publisher?.stop();
  }

  /** True once the bucket's initial contents are loaded. */
  loaded(): boolean {
    return this.cache.ready();
  }

  forUser(who: { sAMAccountName?: string; groups?: readonly string[] }): UserPolicy {
    const key = `${who.sAMAccountName?.toLowerCase() ?? ''}\u0000${who.groups?.join('\u0001') ?? '\u0002'}`;
    const known = this.memo.get(key);
    if (known) return known;
    const policies = [...this.cache.values()];
    const settings = effectivePolicy(policies, who, { activeDirectory: this.configured }).settings
      .activeDirectory;
    // Every field, not only this service's: the gateway applies the tap settings with the groups this
    // service answers with, so they are read whenever a group policy could change anything for the user.
    const groupsNeeded =
      who.groups === undefined &&
      fieldsDecidedWithoutGroups(policies, who, POLICY_FIELDS).size < POLICY_FIELDS.length;
    const answer = { settings: validatePolicy(settings), groupsNeeded };
    if (this.memo.size >= 10_000) this.memo.clear();
    this.memo.set(key, answer);
    return answer;
  }

  revision(): number | undefined {
    return this.cache.revision();
  }

  current(): UserStatusPolicy {
    return this.forUser({ groups: [] }).settings;
  }

  onChange(cb: (policy: UserStatusPolicy) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Changes the configured values (an operator hook, and tests); policies still win. */
  update(change: Partial<UserStatusPolicy>): void {
    this.configured = validatePolicy({ ...this.configured, ...change });
    this.publisher?.update(userStatusBaseline(this.configured).settings);
    this.changed();
  }

  private changed(): void {
    this.memo.clear();
    const now = this.current();
    const text = JSON.stringify(now);
    if (text === this.announced) return;
    this.announced = text;
    for (const cb of this.listeners) cb(now);
  }
}
