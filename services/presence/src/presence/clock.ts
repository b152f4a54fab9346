/** Milliseconds since the epoch. Injected so tests drive presence time instead of sleeping. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to (tests, simulations). */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2025, 0, 1)) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('ManualClock: can only move forward');
    this.current += ms;
  }

  set(ms: number): void {
    this.current = ms;
  }
}
