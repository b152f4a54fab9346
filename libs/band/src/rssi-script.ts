/** One scripted BLE reception: when (ms from the script's start, or epoch ms) and the RSSI in dBm. */
export type RssiPoint = readonly [atMs: number, rssi: number];

/** Deterministic PRNG (mulberry32): the same seed gives the same noise on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A piece of an RSSI script, sampled every `intervalMs` of the script. */
export type RssiSegment =
  | { kind: 'ramp'; from: number; to: number; durationMs: number }
  | { kind: 'hold'; rssi: number; durationMs: number }
  | { kind: 'noise'; around: number; amplitudeDb: number; durationMs: number }
  | { kind: 'spike'; rssi: number }
  | { kind: 'silence'; durationMs: number };

/** The band comes closer: RSSI rises linearly from `from` to `to`. */
export const approach = (from: number, to: number, durationMs: number): RssiSegment => ({
  kind: 'ramp',
  from,
  to,
  durationMs,
});
/** The band walks away: RSSI falls linearly from `from` to `to`. */
export const leave = (from: number, to: number, durationMs: number): RssiSegment => ({
  kind: 'ramp',
  from,
  to,
  durationMs,
});
export const hold = (rssi: number, durationMs: number): RssiSegment => ({ kind: 'hold', rssi, durationMs });
/** Uniform noise of +-amplitudeDb around a level (from the script's seeded PRNG). */
export const noise = (around: number, amplitudeDb: number, durationMs: number): RssiSegment => ({
  kind: 'noise',
  around,
  amplitudeDb,
  durationMs,
});
/** A single sample (a reflection, a phone next to the reader). */
export const spike = (rssi: number): RssiSegment => ({ kind: 'spike', rssi });
/** Out of range: no adverts at all. */
export const silence = (durationMs: number): RssiSegment => ({ kind: 'silence', durationMs });

export interface RssiScriptOptions {
  /** Advert period (BLE advertising interval), default 100 ms. */
  intervalMs?: number;
  /** Seed for noise segments and `jitterDb`, default 1. */
  seed?: number;
  /** Extra uniform noise of +-jitterDb on every sample, default 0. */
  jitterDb?: number;
  /** Time of the first sample, default 0. */
  startMs?: number;
}

const clampRssi = (v: number): number => Math.max(-127, Math.min(20, Math.round(v)));

/**
 * RSSI over time for a simulated band: a sorted list of points, built by hand or from segments
 * (approach, hold, leave, noise, spike, silence). Tests replay `points`; a simulator asks `rssiAt(t)`.
 */
export class RssiScript {
  readonly points: readonly RssiPoint[];

  constructor(
    points: readonly RssiPoint[],
    /** How long a sample stays current for `rssiAt` (about one advert period). */
    readonly sampleLifetimeMs = 1000,
  ) {
    for (const [at, rssi] of points) {
      if (!Number.isFinite(at) || !Number.isFinite(rssi)) {
        throw new RangeError('rssi script: points must be finite numbers');
      }
    }
    this.points = [...points].sort((a, b) => a[0] - b[0]);
  }

  static fromSegments(segments: readonly RssiSegment[], opts: RssiScriptOptions = {}): RssiScript {
    const interval = opts.intervalMs ?? 100;
    if (!(interval > 0)) throw new RangeError('rssi script: intervalMs must be > 0');
    const random = seededRandom(opts.seed ?? 1);
    const jitter = opts.jitterDb ?? 0;
    const points: RssiPoint[] = [];
    let t = opts.startMs ?? 0;
    const emit = (v: number) => {
      const noisy = jitter > 0 ? v + (random() * 2 - 1) * jitter : v;
      points.push([t, clampRssi(noisy)]);
      t += interval;
    };
    for (const s of segments) {
      switch (s.kind) {
        case 'ramp': {
          const n = Math.max(1, Math.round(s.durationMs / interval));
          for (let i = 0; i < n; i++) emit(s.from + (s.to - s.from) * (n === 1 ? 1 : i / (n - 1)));
          break;
        }
        case 'hold':
          for (let i = 0; i < Math.round(s.durationMs / interval); i++) emit(s.rssi);
          break;
        case 'noise':
          for (let i = 0; i < Math.round(s.durationMs / interval); i++) {
            emit(s.around + (random() * 2 - 1) * s.amplitudeDb);
          }
          break;
        case 'spike':
          emit(s.rssi);
          break;
        case 'silence':
          t += s.durationMs;
          break;
      }
    }
    return new RssiScript(points, interval * 2);
  }

  get startMs(): number {
    return this.points[0]?.[0] ?? 0;
  }

  get endMs(): number {
    return this.points.at(-1)?.[0] ?? 0;
  }

  /** The RSSI heard at `atMs`: the latest sample no older than sampleLifetimeMs, else undefined (not heard). */
  rssiAt(atMs: number): number | undefined {
    let lo = 0;
    let hi = this.points.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.points[mid][0] <= atMs) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return undefined;
    const [at, rssi] = this.points[found];
    return atMs - at < this.sampleLifetimeMs ? rssi : undefined;
  }

  /** The script moved in time (e.g. to start now for a live simulation). */
  shifted(byMs: number): RssiScript {
    return new RssiScript(
      this.points.map(([at, rssi]) => [at + byMs, rssi] as const),
      this.sampleLifetimeMs,
    );
  }
}
