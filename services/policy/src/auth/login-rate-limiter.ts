/**
 * Failed logins per key (user name, client address) in a sliding window. In memory, per replica: with
 * N replicas an attacker gets at most N times the budget, and AD's own lockout still applies.
 */
export class LoginRateLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(key);
    else this.failures.set(key, list);
    return list;
  }

  /** Seconds until another attempt is allowed for any of the keys; 0 = allowed now. */
  retryAfterSeconds(keys: string[]): number {
    let wait = 0;
    for (const k of keys) {
      const list = this.recent(k);
      if (list.length >= this.maxFailures) {
        wait = Math.max(wait, Math.ceil((list[0] + this.windowMs - this.now()) / 1000));
      }
    }
    return wait;
  }

  fail(keys: string[]): void {
    for (const k of keys) this.failures.set(k, [...this.recent(k), this.now()]);
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.failures.delete(k);
  }
}
