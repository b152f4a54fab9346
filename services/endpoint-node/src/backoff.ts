/**
 * Reconnect delays: exponential from `baseMs` up to `maxMs`, with full jitter (a uniformly random delay
 * in [0, cap]). Jitter matters: after a gateway restart 2,000 terminals must not reconnect in lockstep.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 250,
    private readonly maxMs = 30_000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const cap = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(this.random() * cap);
  }

  reset(): void {
    this.attempt = 0;
  }
}
