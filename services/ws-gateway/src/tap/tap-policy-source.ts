import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { gatewayBaseline } from '@tapgate/config';
import { KvBuckets, PolicyRecord, effectivePolicy, type BaselineSettings } from '@tapgate/contracts';
import { KvCache, publishBaseline, type BaselinePublisher, type Messaging } from '@tapgate/messaging';
import type { GatewaySettings, TapPolicy } from '../settings';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';

/** Where the tap decider and the ceremonies read the policy in force. */
export interface TapPolicySource {
  /** The effective tap policy of one user; `groups` from user-status (undefined: not known). */
  forUser(sAMAccountName: string, groups: readonly string[] | undefined): TapPolicy;
  /** False when no active policy at all allows this kind of tap (refuse before any lookup). */
  anyAllows(field: 'allowBleTaps' | 'allowUidTaps'): boolean;
  /** Whether presence might be required for this user (some policy that could apply requires it). */
  presenceMayBeRequired(sAMAccountName: string): boolean;
  /** E-signature ceremony timeout (the default policy's; ceremonies open before anyone taps). */
  esignTimeoutMs(): number;
  /** Whether the second signer of a ceremony must be another person (the default policy's). */
  secondSignerMustDiffer(): boolean;
  /** The policies bucket's revision in force (KvCache.revision), undefined until loaded. */
  policyRevision(): number | undefined;
}

export const TAP_POLICY_SOURCE = Symbol('TAP_POLICY_SOURCE');

/**
 * The policies bucket as a local read cache (a KV watch, so a change reaches this replica within
 * moments), applied with effectivePolicy() over this replica's [gateway] values (its baseline), which
 * it publishes so the policy service explains from the same values.
 */
@Injectable()
export class KvTapPolicySource implements TapPolicySource, OnModuleInit, OnModuleDestroy {
  private readonly cache: KvCache<PolicyRecord>;
  private readonly base: Pick<BaselineSettings, 'tap' | 'esign'>;
  private readonly baselineKeys: Record<string, string>;
  private publisher: BaselinePublisher | undefined;
  // Effective policies are computed per tap from a handful of records; remembering the answers until
  // the next policy change keeps that off the hot path (bounded: cleared when it grows past 10,000).
  private readonly memo = new Map<string, unknown>();

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {
    this.cache = new KvCache(messaging, KvBuckets.policies, PolicyRecord);
    this.cache.onChange(() => this.memo.clear());
    const baseline = gatewayBaseline({ ...settings.tapPolicy, esignTimeoutMs: settings.esignTimeoutMs });
    this.base = baseline.settings;
    this.baselineKeys = baseline.keys;
  }

  onModuleInit(): void {
    this.cache.start();
    this.publisher = publishBaseline(this.messaging, {
      service: 'ws-gateway',
      instance: this.settings.gatewayId,
      settings: this.base,
      keys: this.baselineKeys,
    });
  }

  async onModuleDestroy(): Promise<void> {
    this.cache.stop();
    await this.publisher?.stop();
  }

  private policies(): PolicyRecord[] {
    return [...this.cache.values()];
  }

  private remember<T>(key: string, compute: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    if (this.memo.size >= 10_000) this.memo.clear();
    const value = compute();
    this.memo.set(key, value);
    return value;
  }

  forUser(sAMAccountName: string, groups: readonly string[] | undefined): TapPolicy {
    return this.remember(
      `user\u0000${sAMAccountName}\u0000${groups === undefined ? '?' : groups.join('\u0001')}`,
      () => effectivePolicy(this.policies(), { sAMAccountName, groups }, this.base).settings.tap,
    );
  }

  anyAllows(field: 'allowBleTaps' | 'allowUidTaps'): boolean {
    return this.remember(`any\u0000${field}`, () => this.computeAnyAllows(field));
  }

  private computeAnyAllows(field: 'allowBleTaps' | 'allowUidTaps'): boolean {
    const policies = this.policies();
    if (effectivePolicy(policies, {}, this.base).settings.tap[field]) return true;
    return policies.some((p) => p.active && p.kind !== 'default' && p.settings.tap?.[field] === true);
  }

  presenceMayBeRequired(sAMAccountName: string): boolean {
    return this.remember(`presence\u0000${sAMAccountName}`, () =>
      this.computePresenceMayBeRequired(sAMAccountName),
    );
  }

  private computePresenceMayBeRequired(sAMAccountName: string): boolean {
    const policies = this.policies();
    if (effectivePolicy(policies, { sAMAccountName }, this.base).settings.tap.requirePresence) return true;
    return policies.some((p) => p.active && p.kind === 'group' && p.settings.tap?.requirePresence === true);
  }

  policyRevision(): number | undefined {
    return this.cache.revision();
  }

  secondSignerMustDiffer(): boolean {
    return effectivePolicy(this.policies(), {}, this.base).settings.esign.secondSignerMustDiffer;
  }

  esignTimeoutMs(): number {
    return Math.round(
      effectivePolicy(this.policies(), {}, this.base).settings.esign.ceremonyTimeoutSeconds * 1000,
    );
  }
}
