import { DecisionUser, UserStatus, type UserRef } from '@tapgate/contracts';
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
    filledAt: z.number().int().nonnegative(),
  })
  .strict();
export type CachedStatus = z.infer<typeof CachedStatus>;

/**
 * Redis keeps an entry at least this long, whatever the expiry: freshness is decided on read against
 * the current policy, so a raised expiry applies to entries already cached (up to this bound).
 */
export const MIN_RETENTION_SECONDS = 3600;

const PREFIX = 'tapgate:userstatus:v1:';

/** One key per account name. Account names are case-insensitive in AD, so keys are lower case. */
export function cacheKey(ref: UserRef): string {
  return 'sAMAccountName' in ref
    ? `${PREFIX}sam:${ref.sAMAccountName.toLowerCase()}`
    : `${PREFIX}upn:${ref.userPrincipalName.toLowerCase()}`;
}

/** Every key one account may be cached under (by either name), so invalidation removes them all. */
function aliasKeys(entry: CachedStatus): string[] {
  const keys: string[] = [];
  if (entry.user) keys.push(cacheKey({ sAMAccountName: entry.user.sAMAccountName }));
  if (entry.upn) keys.push(cacheKey({ userPrincipalName: entry.upn }));
  return keys;
}

/** Redis-backed status cache. Every method throws when Redis fails; callers decide what that means. */
export class StatusCache {
  constructor(private readonly redis: Redis) {}

  async get(ref: UserRef): Promise<CachedStatus | null> {
    const text = await this.redis.get(cacheKey(ref));
    if (text === null) return null;
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return null;
    }
    const parsed = CachedStatus.safeParse(raw);
    return parsed.success ? parsed.data : null; // an unreadable entry is a miss, and is overwritten
  }

  async put(ref: UserRef, entry: CachedStatus, expirySeconds: number): Promise<void> {
    const ttl = Math.max(expirySeconds, MIN_RETENTION_SECONDS);
    const value = JSON.stringify(entry);
    const keys = new Set([cacheKey(ref), ...aliasKeys(entry)]);
    const tx = this.redis.multi();
    for (const k of keys) tx.set(k, value, 'EX', ttl);
    await tx.exec();
  }

  /** Removes the user's entries under every name it is cached by; true when there was one. */
  async remove(ref: UserRef): Promise<boolean> {
    const key = cacheKey(ref);
    const entry = await this.get(ref);
    const keys = new Set([key, ...(entry ? aliasKeys(entry) : [])]);
    return (await this.redis.del(...keys)) > 0;
  }
}
