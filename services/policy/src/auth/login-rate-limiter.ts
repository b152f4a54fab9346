/** How one kind of key (a user name, a client address) is slowed down after failed logins. */
export interface BackoffRule {
  /** Failures allowed before any wait. */
  freeFailures: number;
  /** The wait after the first failure past `freeFailures`; it doubles with each further failure. */
  firstWaitMs: number;
  maxWaitMs: number;
  /** A key with no failure for this long starts again from zero. */
  forgetAfterMs: number;
}

/**
 * The login throttling policy (documented in docs/api.md, "Administrator login"). Like Keycloak's brute-force
 * detection it slows a key down instead of locking it: after the free failures each further attempt must
 * wait 1 s, 2 s, 4 s ... up to the cap since the key's last failure. Names and addresses are separate keys:
 * - a name from many addresses is throttled by the name rule (AD's own lockout policy still applies);
 * - made-up names from one address are throttled by the address rule, whose cap is short and whose count a
 *   real administrator's success does not reset, so an address shared behind an Ingress is slowed down
 *   for everyone by at most `maxWaitMs` but never locked.
 */
export function loginBackoffPolicy(nameFreeFailures: number): { name: BackoffRule; address: BackoffRule } {
  return {
    name: {
      freeFailures: nameFreeFailures,
      firstWaitMs: 1000,
      maxWaitMs: 60_000,
      forgetAfterMs: 15 * 60_000,
    },
    address: { freeFailures: 10, firstWaitMs: 1000, maxWaitMs: 8000, forgetAfterMs: 15 * 60_000 },
  };
}

interface Entry {
  failures: number;
  lastFailureAt: number;
}

/**
 * Failures of one kind of key with progressive wait. The map is bounded (keys are chosen by an attacker:
 * made-up names, spoofable addresses behind a proxy): entries are forgotten after `forgetAfterMs`, and past
 * `maxKeys` the least recently failed key is dropped. In memory, per policy replica.
 */
class BackoffTable {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly rule: BackoffRule,
    private readonly maxKeys: number,
    private readonly now: () => number,
  ) {}

  private live(key: string): Entry | undefined {
    const e = this.entries.get(key);
    if (e && this.now() - e.lastFailureAt >= this.rule.forgetAfterMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Milliseconds the key must still wait; 0 = may try now. */
  waitMs(key: string): number {
    const e = this.live(key);
    if (!e || e.failures < this.rule.freeFailures) return 0;
    const doublings = Math.min(e.failures - this.rule.freeFailures, 30);
    const wait = Math.min(this.rule.firstWaitMs * 2 ** doublings, this.rule.maxWaitMs);
    return Math.max(0, e.lastFailureAt + wait - this.now());
  }

  addFailure(key: string): void {
    const e = this.live(key) ?? { failures: 0, lastFailureAt: 0 };
    this.entries.delete(key); // re-inserted last: the Map's order is least recently failed first
    this.entries.set(key, { failures: e.failures + 1, lastFailureAt: this.now() });
    while (this.entries.size > this.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  removeFailure(key: string): void {
    const e = this.live(key);
    if (!e) return;
    if (e.failures <= 1) this.entries.delete(key);
    else e.failures -= 1;
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** One login attempt's claim on both tables; settle it exactly once with the outcome. */
export interface LoginAttempt {
  succeeded(): void;
  failed(): void;
  /** Not the client's fault (directory unreachable): the attempt does not count. */
  voided(): void;
}

/**
 * Counts each attempt as a failure the moment it is let through (and takes it back when it succeeds), so
 * concurrent guesses cannot all pass the check before the first failure is recorded.
 */
export class LoginRateLimiter {
  private readonly names: BackoffTable;
  private readonly addresses: BackoffTable;

  constructor(
    policy: { name: BackoffRule; address: BackoffRule },
    now: () => number = Date.now,
    maxKeys = 10_000,
  ) {
    this.names = new BackoffTable(policy.name, maxKeys, now);
    this.addresses = new BackoffTable(policy.address, maxKeys, now);
  }

  /** Either the seconds to wait (for `Retry-After`) or the attempt, already counted. */
  begin(nameKey: string, address: string): { retryAfterSeconds: number } | LoginAttempt {
    const wait = Math.max(this.names.waitMs(nameKey), this.addresses.waitMs(address));
    if (wait > 0) return { retryAfterSeconds: Math.ceil(wait / 1000) };
    this.names.addFailure(nameKey);
    this.addresses.addFailure(address);
    let settled = false;
    const settle = (fn: () => void) => () => {
      if (settled) return;
      settled = true;
      fn();
    };
    return {
      // The name is forgiven; the address keeps its count (someone else may share it).
      succeeded: settle(() => {
        this.names.clear(nameKey);
        this.addresses.removeFailure(address);
      }),
      failed: settle(() => undefined),
      voided: settle(() => {
        this.names.removeFailure(nameKey);
        this.addresses.removeFailure(address);
      }),
    };
  }

  /** Keys held, for tests and the memory bound. */
  get size(): { names: number; addresses: number } {
    return { names: this.names.size, addresses: this.addresses.size };
  }
}
