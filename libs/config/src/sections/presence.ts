import { integer, InvalidValue, type Field } from '../fields';
import { defineSection } from '../section';

export interface PresenceSectionSettings {
  stateTtlMs: number;
  ewmaAlpha: number;
  sweepIntervalMs: number;
  terminalWindowMs: number;
  strongestMarginDb: number;
}

/** A number in (min, max]: TOML float or integer, or its decimal text in the environment. */
function fraction(defaultValue: number, min: number, max: number): Field<number> {
  const expects = `a number greater than ${min} and at most ${max}`;
  const check = (v: unknown): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= min || v > max) throw new InvalidValue();
    return v;
  };
  return {
    expects,
    defaultText: String(defaultValue),
    defaultValue: () => defaultValue,
    fromToml: check,
    fromEnv: (text) => {
      if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text.trim())) throw new InvalidValue();
      return check(Number(text.trim()));
    },
  };
}

/** [presence]: the presence service (band adverts -> presence levels in Redis). */
export const presenceSection = defineSection({
  name: 'presence',
  summary: 'presence: band state TTL, RSSI smoothing, silence sweep, strongest-terminal hysteresis',
  fields: {
    // Must outlive the 60 s after which a silent band is "no", or that level could never be seen.
    state_ttl_ms: integer({ default: 120_000, min: 61_000, max: 86_400_000 }),
    ewma_alpha: fraction(0.3, 0, 1),
    sweep_interval_ms: integer({ default: 500, min: 10, max: 10_000 }),
    terminal_window_ms: integer({ default: 10_000, min: 100, max: 600_000 }),
    strongest_margin_db: integer({ default: 3, min: 0, max: 60 }),
  },
  build(v, at): PresenceSectionSettings {
    if (v.terminal_window_ms > v.state_ttl_ms) {
      throw at.error('terminal_window_ms', `must not exceed [presence].state_ttl_ms (${v.state_ttl_ms})`);
    }
    return {
      stateTtlMs: v.state_ttl_ms,
      ewmaAlpha: v.ewma_alpha,
      sweepIntervalMs: v.sweep_interval_ms,
      terminalWindowMs: v.terminal_window_ms,
      strongestMarginDb: v.strongest_margin_db,
    };
  },
});
