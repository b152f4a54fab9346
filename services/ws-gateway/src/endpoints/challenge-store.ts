import { randomBytes } from 'node:crypto';
import type { Challenge } from '@tapgate/contracts';

export type ChallengeCheck = 'ok' | 'replayed' | 'expired' | 'unknown';

/**
 * Why a challenge check failed, as a refusal: the same codes and words for taps and enrollment taps
 * (RefusalReason and EnrollRefusalReason share these values).
 */
export const CHALLENGE_REFUSALS = {
  replayed: { reason: 'challenge_replayed', message: 'This tap was already used. Tap again.' },
  expired: { reason: 'challenge_expired', message: 'The tap took too long. Tap again.' },
  unknown: {
    reason: 'challenge_unknown',
    message: 'The tap could not be matched to this reader. Tap again.',
  },
} as const satisfies Record<Exclude<ChallengeCheck, 'ok'>, { reason: string; message: string }>;

const MAX_OUTSTANDING = 8;
const MAX_REMEMBERED_USED = 64;

/**
 * Challenges issued to one endpoint connection. Each is random (32 bytes), single use, and valid for
 * `ttlMs`. Used challenges are remembered until they would have expired, so a replayed tap is named as
 * such rather than as "unknown".
 */
export class ChallengeStore {
  /**
   * The outstanding challenges, oldest first, as [challenge, expiresAt, challenge, expiresAt, ...]. An idle
   * endpoint holds MAX_OUTSTANDING of them (the sweep pushes a fresh one as the newest nears expiry), and
   * a Map's hash table for those few entries costs more than a flat array searched linearly.
   */
  private readonly outstanding: Array<string | number> = [];
  /** Made on the first consumed challenge: an idle endpoint never consumes one. */
  private used: Map<string, number> | undefined;
  private latestExpiry = 0;

  constructor(private readonly ttlMs: number) {}

  issue(now: number): Challenge {
    const challenge = randomBytes(32).toString('base64url');
    const expiresAt = now + this.ttlMs;
    if (this.outstanding.length >= 2 * MAX_OUTSTANDING) this.outstanding.splice(0, 2);
    this.outstanding.push(challenge, expiresAt);
    this.latestExpiry = expiresAt;
    return { challenge, expiresAt: new Date(expiresAt).toISOString() };
  }

  /** Checks and, when valid, consumes a challenge. */
  consume(challenge: string, now: number): ChallengeCheck {
    // Only a challenge (a string) can equal the string looked for, never an expiry.
    const at = this.outstanding.indexOf(challenge);
    if (at < 0) return this.used?.has(challenge) ? 'replayed' : 'unknown';
    const expiresAt = this.outstanding[at + 1] as number;
    this.outstanding.splice(at, 2);
    if (now > expiresAt) return 'expired';
    this.used ??= new Map();
    this.used.set(challenge, expiresAt);
    if (this.used.size > MAX_REMEMBERED_USED) {
      const oldest = this.used.keys().next().value;
      if (oldest !== undefined) this.used.delete(oldest);
    }
    return 'ok';
  }

  /** True when the newest challenge expires within `marginMs` (time to push a fresh one). */
  needsRefresh(now: number, marginMs: number): boolean {
    return this.latestExpiry - now < marginMs;
  }
}
