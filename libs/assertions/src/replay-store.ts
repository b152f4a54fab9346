/**
 * Remembers assertion ids (jti) until they expire, so each assertion is accepted once. Replicas of an
 * NEA backend must share one store (e.g. Redis `SET key 1 NX EXAT exp`), or each replica accepts once.
 */
export interface ReplayStore {
  /** Records `jti` until `expiresAt` (seconds since the epoch); false when it was recorded already. */
  claim(jti: string, expiresAt: number): boolean | Promise<boolean>;
}

/** A ReplayStore for one process. Entries are dropped once expired, so memory stays bounded by the TTL. */
export class MemoryReplayStore implements ReplayStore {
  private readonly used = new Map<string, number>();
  private nextSweep = 0;

  constructor(private readonly now: () => number = Date.now) {}

  claim(jti: string, expiresAt: number): boolean {
    const nowMs = this.now();
    if (nowMs >= this.nextSweep) {
      for (const [id, until] of this.used) if (until <= nowMs) this.used.delete(id);
      this.nextSweep = nowMs + 10_000;
    }
    const until = this.used.get(jti);
    if (until !== undefined && until > nowMs) return false;
    this.used.set(jti, expiresAt * 1000);
    return true;
  }

  get size(): number {
    return this.used.size;
  }
}
