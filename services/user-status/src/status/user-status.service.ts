import { SpanStatusCode, type Counter } from '@opentelemetry/api';
import { DecisionUser, type StatusAnswer, type UserRef, type UserStatus } from '@tapgate/contracts';
import { createLogger, getMeter, getTracer, type Logger } from '@tapgate/telemetry';
import { cacheKey, guidKey, type CachedStatus, type StatusCache } from '../cache/status-cache';
import type { BoundLookup, Directory, DirectoryEntry } from '../directory/directory';
import type { PolicySource, UserStatusPolicy } from '../policy/policy-source';
import { statusFromAttributes } from './rules';
import { SingleFlight } from './single-flight';

/** Exactly what POMSnet shows; do not reword. */
export const NOT_CONFIGURED_MESSAGE =
  'Biometric authentication service is not configured to return user status.';

const MESSAGES: Partial<Record<UserStatus, string>> = {
  disabled: 'The account is disabled.',
  locked_out: 'The account is locked out.',
  password_expired: 'The password has expired.',
  must_change_password: 'The password must be changed before signing in.',
  account_expired: 'The account has expired.',
  not_found: 'No such user in the directory.',
  unavailable: 'The user directory could not be asked; the status is unknown.',
  identity_changed:
    'The account name now belongs to another directory object than the one the band was enrolled to.',
};

/**
 * "May user X act now?" Policy first (Check User Status off -> not_configured), then the Redis cache
 * (unless Cache User Status is off), then the directory, with concurrent misses for one user sharing
 * one directory read. Fails closed: whatever goes wrong ends in `unavailable`, which is never cached.
 */
export class UserStatusService {
  private readonly flight = new SingleFlight<StatusAnswer>();
  private readonly cacheResults: Counter;
  private readonly answers: Counter;
  private readonly log: Logger = createLogger('UserStatusService');

  constructor(
    private readonly directory: Directory,
    private readonly cache: StatusCache,
    private readonly policy: PolicySource,
    private readonly now: () => Date = () => new Date(),
    /** Tells the gateways that a user's cached status is gone (UserStatusInvalidated); throws when it cannot. */
    private readonly announceInvalidation: (ref: UserRef) => void = () => undefined,
  ) {
    const meter = getMeter();
    this.cacheResults = meter.createCounter('tapgate.userstatus.cache', {
      description:
        'Status cache lookups by result: hit, miss, bypass (caching off by policy), error (Redis failed)',
    });
    this.answers = meter.createCounter('tapgate.userstatus.answers', {
      description: 'Status answers by status',
    });
  }

  /** The status of `ref`; with `objectGUID`, of that directory object (an enrollment's binding). */
  async get(ref: UserRef, objectGUID?: string): Promise<StatusAnswer> {
    return getTracer().startActiveSpan('userstatus.get', async (span) => {
      try {
        const answer = await this.decide(ref, objectGUID);
        span.setAttributes({ 'tapgate.source': answer.source, 'tapgate.status': answer.status });
        this.answers.add(1, { status: answer.status });
        return answer;
      } finally {
        span.end();
      }
    });
  }

  /**
   * The user's effective AD settings decide each step. Known by name alone (the user's own policy sets
   * the field, or no group policy does): act on them at once. Otherwise the groups come from the cached
   * entry or the directory read, and the settings are judged again with them: a policy change applies
   * to the next request, entries already cached included.
   */
  private async decide(ref: UserRef, objectGUID?: string): Promise<StatusAnswer> {
    const sam = 'sAMAccountName' in ref ? ref.sAMAccountName : undefined;
    // Read first: an answer is offered for reuse only when no policy change came while it was computed.
    const revision = this.policy.revision?.();
    const byName = this.policy.forUser({ sAMAccountName: sam });
    if (!byName.groupsNeeded && !byName.settings.checkUserStatus) return this.notConfigured();
    // A GUID query's answer depends on the name asked too (who holds it now), so both make the key.
    const key = objectGUID ? `${guidKey(objectGUID)}|${cacheKey(ref)}` : cacheKey(ref);
    if (!byName.groupsNeeded && !byName.settings.cacheUserStatus) {
      this.cacheResults.add(1, { result: 'bypass' });
      return this.flight.run(key, () => this.fromDirectory(ref, false, objectGUID));
    }
    const read = await this.readCache(ref, objectGUID);
    if ('entry' in read && read.entry) {
      const entry = read.entry;
      const policy = this.policy.forUser({
        sAMAccountName: entry.user?.sAMAccountName ?? sam,
        groups: entry.groups ?? [],
      }).settings;
      if (!policy.checkUserStatus) return this.notConfigured(entry);
      if (!policy.cacheUserStatus) this.cacheResults.add(1, { result: 'bypass' });
      // Freshness against the expiry in force now, so a policy change applies to cached entries at once.
      else if (this.cache.fresh(entry, policy.cacheExpirySeconds, this.now().getTime())) {
        this.cacheResults.add(1, { result: 'hit' });
        return this.offerReuse(this.fromCache(entry), policy, entry.filledAt, revision);
      } else this.cacheResults.add(1, { result: 'miss' });
    } else this.cacheResults.add(1, { result: 'entry' in read ? 'miss' : 'error' });
    // After a Redis error the write would fail too: answer straight from the directory.
    return this.flight.run(key, () => this.fromDirectory(ref, 'entry' in read, objectGUID, revision));
  }

  /**
   * An `active` answer that this service would serve from its cache (caching on, fresh under the expiry
   * in force) says for how much longer, and under which policies revision: the gateway may reuse it that
   * long (StatusAnswer.reuse). Nothing else is offered: a refusal always asks again.
   */
  private offerReuse(
    answer: StatusAnswer,
    policy: UserStatusPolicy,
    filledAtMs: number,
    revision: number | undefined,
  ): StatusAnswer {
    if (answer.status !== 'active' || revision === undefined) return answer;
    if (!policy.checkUserStatus || !policy.cacheUserStatus) return answer;
    if (this.policy.revision?.() !== revision) return answer;
    const forMs = Math.floor(filledAtMs + policy.cacheExpirySeconds * 1000 - this.now().getTime());
    return forMs >= 1 ? { ...answer, reuse: { forMs, policyRevision: revision } } : answer;
  }

  /** Carries the user and groups when they were read, so the gateway applies the same group policies. */
  private notConfigured(known?: Pick<StatusAnswer, 'user' | 'groups'>): StatusAnswer {
    return this.answer('not_configured', 'none', this.now(), {
      message: NOT_CONFIGURED_MESSAGE,
      user: known?.user,
      groups: known?.groups,
    });
  }

  private async readCache(
    ref: UserRef,
    objectGUID?: string,
  ): Promise<{ entry: CachedStatus | null } | { error: Error }> {
    return getTracer().startActiveSpan(
      'userstatus.cache',
      { attributes: { 'tapgate.source': 'cache' } },
      async (span) => {
        try {
          const entry = await this.cache.get(ref, objectGUID);
          span.setAttribute('tapgate.cache.found', entry !== null);
          return { entry };
        } catch (e) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
          this.log.debug({ err: (e as Error).message }, 'status cache read failed; asking the directory');
          return { error: e as Error };
        } finally {
          span.end();
        }
      },
    );
  }

  /**
   * Reads the directory (with `objectGUID`, the enrolled object and who holds the name now), then applies
   * the user's settings with the groups just read: caches the answer (when `mayCache` and the policy says
   * so) and answers not_configured when Check User Status is off.
   */
  private async fromDirectory(
    ref: UserRef,
    mayCache: boolean,
    objectGUID?: string,
    revision?: number,
  ): Promise<StatusAnswer> {
    const checkedAt = this.now();
    const read: { entry: DirectoryEntry | null; bound?: BoundLookup } | { error: Error } =
      await getTracer().startActiveSpan(
        'userstatus.directory',
        { attributes: { 'tapgate.source': 'directory', 'tapgate.directory': this.directory.kind } },
        async (span) => {
          try {
            if (!objectGUID) return { entry: await this.directory.lookup(ref) };
            const bound = await this.directory.lookupBound(objectGUID, ref);
            return { entry: bound.entry, bound };
          } catch (e) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
            return { error: e as Error };
          } finally {
            span.end();
          }
        },
      );
    if ('error' in read) {
      if (read.error.name !== 'DirectoryError') {
        this.log.error({ err: read.error }, 'directory lookup failed');
      }
      return this.answer('unavailable', 'none', checkedAt);
    }
    const answer =
      read.bound?.name === 'other'
        ? this.identityChanged(objectGUID!, read.bound, checkedAt)
        : this.judge(read.entry, checkedAt);
    const policy = this.policy.forUser({
      sAMAccountName:
        read.entry?.user.sAMAccountName ?? ('sAMAccountName' in ref ? ref.sAMAccountName : undefined),
      groups: read.entry?.groups ?? [],
    }).settings;
    if (mayCache && policy.cacheUserStatus && answer.status !== 'unavailable') {
      const entry: CachedStatus = {
        v: 1,
        status: answer.status,
        user: answer.user,
        upn: read.entry?.user.userPrincipalName,
        evidence: answer.evidence,
        ...(answer.groups ? { groups: answer.groups } : {}),
        ...(answer.directoryObject ? { directoryObject: answer.directoryObject } : {}),
        filledAt: checkedAt.getTime(),
      };
      const stored = await this.cache.put(ref, entry, policy.cacheExpirySeconds, objectGUID).then(
        () => true,
        (e: unknown) => {
          this.cacheResults.add(1, { result: 'error' });
          this.log.debug({ err: (e as Error).message }, 'status cache write failed');
          return false;
        },
      );
      // Reusable only as long as the cached copy would be served (not when it could not be stored).
      if (stored && policy.checkUserStatus) return this.offerReuse(answer, policy, entry.filledAt, revision);
    }
    return policy.checkUserStatus ? answer : this.notConfigured(answer);
  }

  /** The enrolled name is now another object's: refused, and nothing of that other person is shown. */
  private identityChanged(objectGUID: string, bound: BoundLookup, checkedAt: Date): StatusAnswer {
    this.log.warn(
      { objectGUID, nameHeldBy: bound.otherGUID, boundObject: bound.entry ? 'exists' : 'gone' },
      'enrolled account name now belongs to another directory object',
    );
    const evidence: Record<string, string> = { objectGUID };
    if (bound.otherGUID) evidence.nameHeldBy = bound.otherGUID;
    return this.answer('identity_changed', 'directory', checkedAt, { evidence });
  }

  private judge(entry: DirectoryEntry | null, checkedAt: Date): StatusAnswer {
    if (!entry) return this.answer('not_found', 'directory', checkedAt);
    const outcome = statusFromAttributes(entry.attributes, checkedAt);
    const user = DecisionUser.safeParse({
      sAMAccountName: entry.user.sAMAccountName,
      displayName: entry.user.displayName,
      dn: entry.user.dn,
    });
    if (outcome.problem) this.log.warn({ user: entry.user.sAMAccountName }, outcome.problem);
    return this.answer(outcome.status, 'directory', checkedAt, {
      user: user.success ? user.data : undefined,
      evidence: entry.attributes,
      groups: entry.groups,
      directoryObject: entry.identity,
      message: outcome.problem ? `${MESSAGES.unavailable} (${outcome.problem})` : undefined,
    });
  }

  private fromCache(entry: CachedStatus): StatusAnswer {
    return this.answer(entry.status, 'cache', new Date(entry.filledAt), {
      user: entry.user,
      evidence: entry.evidence,
      groups: entry.groups,
      directoryObject: entry.directoryObject,
    });
  }

  private answer(
    status: UserStatus,
    source: StatusAnswer['source'],
    checkedAt: Date,
    extra: {
      user?: StatusAnswer['user'];
      evidence?: Record<string, string>;
      message?: string;
      groups?: string[];
      directoryObject?: StatusAnswer['directoryObject'];
    } = {},
  ): StatusAnswer {
    const message = extra.message ?? MESSAGES[status];
    return {
      v: 1,
      status,
      ...(extra.user ? { user: extra.user } : {}),
      evidence: extra.evidence ?? {},
      ...(extra.groups ? { groups: extra.groups } : {}),
      ...(extra.directoryObject ? { directoryObject: extra.directoryObject } : {}),
      source,
      checkedAt: checkedAt.toISOString(),
      ...(message ? { message } : {}),
    };
  }

  /**
   * Removes one user's cached status (under both of its names) and tells the gateways to forget what
   * they reuse. Throws when Redis fails, or when the gateways could not be told.
   */
  async invalidate(ref: UserRef): Promise<boolean> {
    const removed = await this.cache.remove(ref);
    this.announceInvalidation(ref);
    return removed;
  }
}
