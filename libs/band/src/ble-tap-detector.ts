/**
 * BLE tap detection from RSSI (docs/architecture.md, "BLE tap detection", is the long form).
 *
 * Per band, two rolling windows of the last samples:
 * - tap window (rssi_window_tap samples): when it is full and its mean is >= threshold, the band
 *   taps, once. It is then disarmed until it leaves the tap zone: the mean falls below
 *   threshold - hysteresisDb, or no sample arrives for absenceMs (out of range; the windows reset).
 *   A full window is required, so one strong sample (a reflection) cannot tap on its own.
 * - long window (rssi_window_long samples): its mean decides present/away against presentThreshold,
 *   and the least-squares slope of RSSI over time gives the trend (approaching/steady/leaving).
 * threshold 0 turns BLE taps off (the nbe.toml convention); trend and presence still work.
 */
export interface BleTapDetectorOptions {
  /** nbe.toml rssi_window_tap: samples averaged for a tap (1-1000). */
  windowTap: number;
  /** nbe.toml rssi_window_long: samples for the proximity trend (>= windowTap). */
  windowLong: number;
  /** nbe.toml rssi_tap_threshold: dBm, -127..0; 0 = BLE tap off. */
  threshold: number;
  /** How far (dB) below the threshold the tap-window mean must fall to re-arm. Default 6. */
  hysteresisDb?: number;
  /** No sample for this long = the band left (re-arms, clears the windows). Default 3000 ms. */
  absenceMs?: number;
  /** Long-window mean at or above this is "present". Default -70 dBm. */
  presentThreshold?: number;
  /** Slope (dB/s) beyond which the trend is approaching/leaving. Default 1.5. */
  trendDbPerSecond?: number;
}

export type ProximityTrend = 'approaching' | 'steady' | 'leaving';

export interface BleObservation {
  bandId: string;
  /** True exactly once per approach. */
  tap: boolean;
  /** Tap-window mean, once the window is full. */
  tapAverage?: number;
  longAverage: number;
  trend: ProximityTrend;
  present: boolean;
}

interface BandTrack {
  tapValues: Float64Array;
  tapCount: number;
  tapNext: number;
  tapSum: number;
  longValues: Float64Array;
  longTimes: Float64Array;
  longCount: number;
  longNext: number;
  longSum: number;
  armed: boolean;
  lastAt: number;
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`BLE tap detector: ${name} must be an integer ${min}..${max} (got ${String(v)})`);
  }
}

export class BleTapDetector {
  readonly windowTap: number;
  readonly windowLong: number;
  readonly threshold: number;
  readonly hysteresisDb: number;
  readonly absenceMs: number;
  readonly presentThreshold: number;
  readonly trendDbPerSecond: number;
  private readonly bands = new Map<string, BandTrack>();

  constructor(opts: BleTapDetectorOptions) {
    checkInt('windowTap', opts.windowTap, 1, 1000);
    checkInt('windowLong', opts.windowLong, opts.windowTap, 10_000);
    checkInt('threshold', opts.threshold, -127, 0);
    this.windowTap = opts.windowTap;
    this.windowLong = opts.windowLong;
    this.threshold = opts.threshold;
    this.hysteresisDb = opts.hysteresisDb ?? 6;
    this.absenceMs = opts.absenceMs ?? 3000;
    this.presentThreshold = opts.presentThreshold ?? -70;
    this.trendDbPerSecond = opts.trendDbPerSecond ?? 1.5;
    if (!(this.hysteresisDb > 0)) throw new RangeError('BLE tap detector: hysteresisDb must be > 0');
    if (!(this.absenceMs > 0)) throw new RangeError('BLE tap detector: absenceMs must be > 0');
  }

  /** True when BLE taps are on (threshold below 0). */
  get enabled(): boolean {
    return this.threshold < 0;
  }

  /** Feeds one advert's RSSI. Samples must come in time order per band; a late one counts as "now". */
  feed(bandId: string, rssi: number, atMs: number = Date.now()): BleObservation {
    if (!Number.isFinite(rssi)) throw new RangeError('BLE tap detector: rssi must be a finite number');
    let track = this.bands.get(bandId);
    if (track && atMs - track.lastAt >= this.absenceMs) {
      this.bands.delete(bandId);
      track = undefined;
    }
    if (!track) {
      track = this.newTrack(atMs);
      this.bands.set(bandId, track);
    }
    track.lastAt = Math.max(track.lastAt, atMs);
    this.push(track, rssi, track.lastAt);

    const tapAverage = track.tapCount === this.windowTap ? track.tapSum / this.windowTap : undefined;
    let tap = false;
    if (tapAverage !== undefined && this.enabled) {
      if (track.armed && tapAverage >= this.threshold) {
        tap = true;
        track.armed = false;
      } else if (!track.armed && tapAverage < this.threshold - this.hysteresisDb) {
        track.armed = true;
      }
    }
    const longAverage = track.longSum / track.longCount;
    return {
      bandId,
      tap,
      tapAverage,
      longAverage,
      trend: this.trendOf(track),
      present: longAverage >= this.presentThreshold,
    };
  }

  /** Present/away now: away once the band has been silent for absenceMs. */
  isPresent(bandId: string, nowMs: number = Date.now()): boolean {
    const track = this.bands.get(bandId);
    if (!track || nowMs - track.lastAt >= this.absenceMs) return false;
    return track.longSum / track.longCount >= this.presentThreshold;
  }

  /** Forgets bands silent for absenceMs (bounded memory); returns their ids. */
  sweep(nowMs: number = Date.now()): string[] {
    const gone: string[] = [];
    for (const [id, track] of this.bands) {
      if (nowMs - track.lastAt >= this.absenceMs) {
        this.bands.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  get trackedBands(): number {
    return this.bands.size;
  }

  private newTrack(atMs: number): BandTrack {
    return {
      tapValues: new Float64Array(this.windowTap),
      tapCount: 0,
      tapNext: 0,
      tapSum: 0,
      longValues: new Float64Array(this.windowLong),
      longTimes: new Float64Array(this.windowLong),
      longCount: 0,
      longNext: 0,
      longSum: 0,
      armed: true,
      lastAt: atMs,
    };
  }

  private push(t: BandTrack, rssi: number, atMs: number): void {
    if (t.tapCount === this.windowTap) t.tapSum -= t.tapValues[t.tapNext];
    else t.tapCount++;
    t.tapValues[t.tapNext] = rssi;
    t.tapSum += rssi;
    t.tapNext = (t.tapNext + 1) % this.windowTap;

    if (t.longCount === this.windowLong) t.longSum -= t.longValues[t.longNext];
    else t.longCount++;
    t.longValues[t.longNext] = rssi;
    t.longTimes[t.longNext] = atMs;
    t.longSum += rssi;
    t.longNext = (t.longNext + 1) % this.windowLong;
  }

  /** Least-squares slope (dB/s) over the long window; needs it at least half full. */
  private trendOf(t: BandTrack): ProximityTrend {
    const n = t.longCount;
    if (n < Math.max(2, Math.ceil(this.windowLong / 2))) return 'steady';
    let meanT = 0;
    for (let i = 0; i < n; i++) meanT += t.longTimes[i];
    meanT /= n;
    const meanV = t.longSum / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      const dt = (t.longTimes[i] - meanT) / 1000;
      num += dt * (t.longValues[i] - meanV);
      den += dt * dt;
    }
    if (den === 0) return 'steady';
    const slope = num / den;
    if (slope >= this.trendDbPerSecond) return 'approaching';
    if (slope <= -this.trendDbPerSecond) return 'leaving';
    return 'steady';
  }
}
