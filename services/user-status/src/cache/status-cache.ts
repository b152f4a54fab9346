import {
  DecisionUser,
  ObjectGuid,
  ObjectSid,
  UserStatus,
  receiving,
  userNameToken,
  type UserRef,
} from '@tapgate/contracts';
import type { Redis } from 'ioredis';
import { z } from 'zod';

/** What is stored per user. `filledAt` lets a read judge freshness against the *current* expiry. */
export const CachedStatus = z
  .object({
    v: z.literal(1),
    status: UserStatus,
    user: DecisionUser.optional(),
    /** The account's userPrincipalName, so invalidating by either name finds both keys. */
    upn: z.string().optional(),
    evidence: z.record(z.string(), z.string()),
    groups: z.array(z.string()).optional(),
    /** The account's objectGUID/objectSid, so invalidating by name also removes its GUID key. */
    directoryObject: z
      .object({ objectGUID: ObjectGuid, objectSid: ObjectSid.optional() })
      .strict()
      .optional(),
    /** For an answer to a GUID query: the name it was asked with (userNameToken), which the answer depends on. */
    queried: z.string().optional(),
    filledAt: z.number().int().nonnegative(),
  })
  .strict();
export type CachedStatus = z.infer<typeof CachedStatus>;

/**
 * Redis keeps an entry at least this long, whatever the expiry: freshness is decided on read against
 * the current policy, so a raised expiry applies to entries already cached (up to this bound).
 */
export const MIN_RETENTION_SECONDS = 3600;

/**
 * Answers that say "no such account" (or "that name is someone else now"): kept only for the short
 * negative TTL, so an account created (or an enrollment fixed) a moment after a failed lookup works soon.
 */
const NEGATIVE: ReadonlySet<UserStatus> = new Set(['not_found', 'identity_changed']);

const PREFIX = 'tapgate:userstatus:v1:';

/** One key per account name. */
export function cacheKey(ref: UserRef): string {
  return `${PREFIX}${userNameToken(ref)}`;
}

/** The key of an enrollment's bound directory object. */
export function guidKey(objectGUID: string): string {
  return `${PREFIX}guid:${objectGUID}`;
}

/** Every key one account may be cached under (either name, its GUID), so invalidation removes them all. */
function aliasKeys(entry: CachedStatus): string[] {
  const keys: string[] = [];
  if (entry.user) keys.push(cacheKey({ sAMAccountName: entry.user.sAMAccountName }));
  if (entry.upn) keys.push(cacheKey({ userPrincipalName: entry.upn }));
  if (entry.directoryObject) keys.push(guidKey(entry.directoryObject.objectGUID));
  return keys;
}

/** Whether a cached entry answers a GUID query made with `ref`: same object, and the name checked. */
function answersBound(entry: CachedStatus, ref: UserRef): boolean {
  if (entry.queried !== undefined) return entry.queried === userNameToken(ref);
  // Filled by a name query: valid when that name is the one asked (so it resolved to this object).
  const names = [
    entry.user && userNameToken({ sAMAccountName: entry.user.sAMAccountName }),
    entry.upn && userNameToken({ userPrincipalName: entry.upn }),
  ];
  return names.includes(userNameToken(ref));
}

/** Redis-backed status cache. Every method throws when Redis fails; callers decide what that means. */
export class StatusCache {
  constructor(
    private readonly redis: Redis,
    /** [user_status].negative_cache_seconds */
    private readonly negativeSeconds: number,
  ) {}

  /** The entry for `ref` (or, with `objectGUID`, for that directory object asked by that name). */
  async get(ref: UserRef, objectGUID?: string): Promise<CachedStatus | null> {
    const text = await this.redis.get(objectGUID ? guidKey(objectGUID) : cacheKey(ref));
    if (text === null) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return null;
    }
    // Replicas of two versions share the cache during an upgrade (docs/protocol.md §11).
    const parsed = receiving(CachedStatus).safeParse(raw);
    if (!parsed.success) return null; // an unreadable entry is a miss, and is overwritten
    if (objectGUID && !answersBound(parsed.data, ref)) return null;
    return parsed.data;
  }

  /** Whether an entry may still be served, under the expiry in force now (negative answers: shorter). */
  fresh(entry: CachedStatus, expirySeconds: number, nowMs: number): boolean {
    const limit = NEGATIVE.has(entry.status) ? Math.min(this.negativeSeconds, expirySeconds) : expirySeconds;
    return nowMs - entry.filledAt < limit * 1000;
  }

  async put(ref: UserRef, entry: CachedStatus, expirySeconds: number, objectGUID?: string): Promise<void> {
    const negative = NEGATIVE.has(entry.status);
    const ttl = negative ? this.negativeSeconds : Math.max(expirySeconds, MIN_RETENTION_SECONDS);
    const value = JSON.stringify(objectGUID ? { ...entry, queried: userNameToken(ref) } : entry);
    // A negative answer to a GUID query is about that query only; a positive one is the object's status,
    // the same a query by its current names would get, so it is stored under those too.
    const keys = new Set(objectGUID ? [guidKey(objectGUID)] : [cacheKey(ref)]);
    if (!negative) for (const k of aliasKeys(entry)) keys.add(k);
    const tx = this.redis.multi();
    for (const k of keys) tx.set(k, value, 'EX', ttl);
    await tx.exec();
  }

  /** Removes the user's entries under every name (and GUID) it is cached by; true when there was one. */
  async remove(ref: UserRef): Promise<boolean> {
    const key = cacheKey(ref);
    const entry = await this.get(ref);
    const keys = new Set([key, ...(entry ? aliasKeys(entry) : [])]);
    return (await this.redis.del(...keys)) > 0;
  }
}
