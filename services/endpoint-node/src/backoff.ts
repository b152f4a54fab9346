/**
 * How a connection attempt failed, as far as the reconnect delay is concerned. `refused`: nothing listens
 * at the address (ECONNREFUSED: the gateway process is down or not yet listening); answering that costs
 * the server's kernel one reset and the gateway nothing. `other`: anything that reached the gateway or
 * may have (a close, a timeout, a TLS failure), which costs it work.
 */
export type AttemptFailure = 'refused' | 'other';

export interface BackoffOptions {
  /**
   * The cap for refused attempts early in an outage (default 1 s, never below the base): a restarting
   * gateway is back within that of listening, and a herd still arrives spread over this window.
   */
  refusedMaxMs?: number;
  /**
   * How long after the first failure of an outage refused attempts keep the lower cap (default 30 s);
   * after that every attempt grows to `maxMs`, so a site whose gateways are down for long is not
   * probed every second by every terminal.
   */
  fastWindowMs?: number;
  now?: () => number;
}

/**
 * Reconnect delays: exponential from `baseMs` up to `maxMs`, with full jitter (a uniformly random delay
 * in [0, cap]). Jitter matters: after a gateway restart 2,000 terminals must not reconnect in lockstep.
 * Refused attempts in the first `fastWindowMs` of an outage are capped at `refusedMaxMs` instead, and
 * do not count towards the doubling of the other failures: a restart refuses connections for a second or
 * so, and with plain doubling the unlucky terminals would be several seconds into their wait when the
 * gateway is back (docs/protocol.md, "Reconnecting").
 */
export class Backoff {
  private attempt = 0;
  /** Attempts since the last reset that failed as `other`: early in an outage only these grow its cap. */
  private costlyAttempts = 0;
  /** When the first failure since the last reset happened (undefined: none yet). */
  private outageStartedAt: number | undefined;
  private readonly refusedMaxMs: number;
  private readonly fastWindowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly baseMs = 250,
    private readonly maxMs = 30_000,
    private readonly random: () => number = Math.random,
    opts: BackoffOptions = {},
  ) {
    this.refusedMaxMs = Math.min(maxMs, Math.max(baseMs, opts.refusedMaxMs ?? 1000));
    this.fastWindowMs = opts.fastWindowMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  /** The delay before the next attempt, after an attempt that failed as `failure` says. */
  next(failure: AttemptFailure = 'other'): number {
    const now = this.now();
    this.outageStartedAt ??= now;
    const early = now - this.outageStartedAt < this.fastWindowMs;
    // Early in an outage, refusals neither wait long nor make the next costly failure wait longer: a
    // terminal refused ten times while its gateway restarted, then reset once by the new gateway's
    // full accept queue, waits as after its first failure, not ten doublings later.
    let steps = this.attempt;
    let maxMs = this.maxMs;
    if (early && failure === 'refused') maxMs = this.refusedMaxMs;
    else if (early) steps = this.costlyAttempts;
    const cap = Math.min(maxMs, this.baseMs * 2 ** Math.min(steps, 30));
    this.attempt++;
    if (failure === 'other') this.costlyAttempts++;
    return Math.round(this.random() * cap);
  }

  reset(): void {
    this.attempt = 0;
    this.costlyAttempts = 0;
    this.outageStartedAt = undefined;
  }
}
