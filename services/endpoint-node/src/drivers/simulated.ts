import { RssiScript, SoftwareBand } from '@tapgate/band';
import type { TapKind, TapProof } from '@tapgate/contracts';
import type { DriverSink, NfcRead, ReaderDriver } from './driver';

/** How often a band with a steady RSSI advertises (BLE adverts every second are typical). */
const STEADY_ADVERT_INTERVAL_MS = 1000;

interface SimulatedBand {
  band: SoftwareBand;
  /** Steady RSSI while no script plays; undefined = out of range (no adverts). */
  rssi?: number;
  script?: { script: RssiScript; startedAt: number; timer: NodeJS.Timeout };
}

/**
 * Software bands in front of a simulated NFC reader and BLE adapter. Taps, wear state and RSSI are
 * driven from the CLI or the local control port, so the whole tap path runs without hardware.
 */
export class SimulatedDriver implements ReaderDriver {
  readonly name = 'simulated';
  private readonly bands = new Map<string, SimulatedBand>();
  private sink: DriverSink | undefined;
  private ticker: NodeJS.Timeout | undefined;

  async start(sink: DriverSink): Promise<void> {
    this.sink = sink;
    this.ticker = setInterval(() => this.advertiseSteady(), STEADY_ADVERT_INTERVAL_MS);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.ticker);
    for (const b of this.bands.values()) clearTimeout(b.script?.timer);
    this.sink = undefined;
  }

  addBand(band: SoftwareBand): void {
    this.bands.set(band.bandId, { band });
  }

  list(): Array<{ bandId: string; state: string; rssi?: number }> {
    return [...this.bands.values()].map((b) => ({
      bandId: b.band.bandId,
      state: b.band.state,
      rssi: b.rssi,
    }));
  }

  band(bandId: string): SoftwareBand {
    const b = this.bands.get(bandId);
    if (!b) throw new RangeError(`no simulated band ${bandId}`);
    return b.band;
  }

  /** A current-protocol band signs the channel it answers on (proof format 2). */
  private signer(band: SoftwareBand, kind: TapKind) {
    return (challenge: string, terminalId: string): TapProof | undefined =>
      band.answerTap({ challenge, terminalId, kind });
  }

  /** What the reader reads when this band is tapped: its id, and how it answers taps and enrollments. */
  read(bandId: string): NfcRead {
    const band = this.band(bandId);
    return {
      bandId,
      sign: this.signer(band, 'nfc'),
      enroll: (challenge, terminalId, sessionId) =>
        band.answerEnrollment({ challenge, terminalId, sessionId }),
    };
  }

  /** An NFC tap of this band on the reader. */
  tapNfc(bandId: string): void {
    this.sink?.nfc(this.read(bandId));
  }

  /** A plain badge (UID only, no signature). */
  tapUid(uid: string): void {
    this.sink?.nfc({ uid });
  }

  /** Sets a steady RSSI (undefined = out of range); stops a running script. */
  setRssi(bandId: string, rssi: number | undefined): void {
    const b = this.bands.get(bandId);
    if (!b) throw new RangeError(`no simulated band ${bandId}`);
    clearTimeout(b.script?.timer);
    b.script = undefined;
    b.rssi = rssi;
    if (rssi !== undefined) this.emitSample(b, rssi);
  }

  /** Replays an RSSI script in real time (each point at its offset from now). */
  play(bandId: string, script: RssiScript): Promise<void> {
    const b = this.bands.get(bandId);
    if (!b) throw new RangeError(`no simulated band ${bandId}`);
    clearTimeout(b.script?.timer);
    b.rssi = undefined;
    const points = script.points;
    const startedAt = Date.now();
    const origin = script.startMs;
    return new Promise((resolve) => {
      let i = 0;
      const step = () => {
        while (i < points.length && points[i][0] - origin <= Date.now() - startedAt) {
          this.emitSample(b, points[i][1]);
          i++;
        }
        if (i >= points.length) {
          b.script = undefined;
          resolve();
          return;
        }
        const wait = Math.max(0, points[i][0] - origin - (Date.now() - startedAt));
        b.script = { script, startedAt, timer: setTimeout(step, wait) };
      };
      step();
    });
  }

  private advertiseSteady(): void {
    for (const b of this.bands.values()) {
      if (!b.script && b.rssi !== undefined) this.emitSample(b, b.rssi);
    }
  }

  private emitSample(b: SimulatedBand, rssi: number): void {
    const state = b.band.state;
    this.sink?.ble({
      bandId: b.band.bandId,
      rssi,
      state: state === 'authenticated' ? 'authenticated' : state === 'on_wrist' ? 'on_wrist' : 'unclasped',
      atMs: Date.now(),
      sign: this.signer(b.band, 'ble'),
    });
  }
}
