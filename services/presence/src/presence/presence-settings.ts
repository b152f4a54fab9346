/**
 * Presence levels from the time since the band's last advert, as the old Nymi SDK defined them:
 * yes (advert within 5 s), likely (none for >= 5 s), unlikely (>= 15 s), no (>= 60 s).
 * Fixed, not configurable: NEA clients written against the Nymi behaviour rely on these timings.
 */
export const LEVEL_AFTER_MS = { likely: 5_000, unlikely: 15_000, no: 60_000 } as const;

export interface PresenceSettings {
  /** Band state (and its published snapshot) expires this long after the last advert. > 60 s. */
  stateTtlMs: number;
  /** EWMA weight of a new RSSI sample per terminal: smoothed = a * rssi + (1 - a) * smoothed. */
  ewmaAlpha: number;
  /** How often each replica looks for silence transitions (yes -> likely -> unlikely -> no). */
  sweepIntervalMs: number;
  /** A terminal counts as seeing the band when it heard it within this long of the band's last advert. */
  terminalWindowMs: number;
  /** Another terminal becomes the strongest only when it beats the current one by this many dB. */
  strongestMarginDb: number;
}

export const DEFAULT_PRESENCE_SETTINGS: PresenceSettings = {
  stateTtlMs: 120_000,
  ewmaAlpha: 0.3,
  sweepIntervalMs: 500,
  terminalWindowMs: 10_000,
  strongestMarginDb: 3,
};

export function checkPresenceSettings(s: PresenceSettings): PresenceSettings {
  const problems: string[] = [];
  if (!Number.isInteger(s.stateTtlMs) || s.stateTtlMs <= LEVEL_AFTER_MS.no) {
    problems.push('stateTtlMs must be > 60000');
  }
  if (!(s.ewmaAlpha > 0 && s.ewmaAlpha <= 1)) problems.push('ewmaAlpha must be in (0, 1]');
  if (!Number.isInteger(s.sweepIntervalMs) || s.sweepIntervalMs < 10) {
    problems.push('sweepIntervalMs must be >= 10');
  }
  if (!Number.isInteger(s.terminalWindowMs) || s.terminalWindowMs < 100) {
    problems.push('terminalWindowMs must be >= 100');
  }
  if (!(s.strongestMarginDb >= 0)) problems.push('strongestMarginDb must be >= 0');
  if (problems.length) throw new RangeError(`presence settings: ${problems.join('; ')}`);
  return s;
}
