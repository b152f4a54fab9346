import { BleTapDetector } from '@tapgate/band';
import type { Advert, EnrollResult, TapResult } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { AgentClient, type TapRequest } from './agent-client';
import type { BleSample, NfcRead, ReaderDriver } from './drivers/driver';

const log = createLogger('endpoint-node');

/** Adverts are batched so a terminal with many bands nearby sends a few frames a second, not hundreds. */
const ADVERT_FLUSH_MS = 500;
const MAX_ADVERTS_PER_FRAME = 256;

/** One tap as the control port's status shows it: a decision, an enrollment answer, or why it failed. */
export interface RecentTap {
  at: string;
  /** nfc, ble, or enroll (an enrollment tap). */
  kind: string;
  bandId?: string;
  result?: TapResult;
  enrollment?: EnrollResult;
  error?: string;
}

export interface EndpointNodeOptions {
  client: AgentClient;
  driver: ReaderDriver;
  ble: { windowTap: number; windowLong: number; threshold: number };
}

/**
 * Wires a reader driver to the gateway: NFC reads become taps; BLE samples are relayed as adverts (for
 * presence) and fed to the BLE tap detector, whose taps are sent like NFC taps with kind "ble".
 */
export class EndpointNode {
  private readonly detector: BleTapDetector;
  private advertQueue: Advert[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  /** Recent tap outcomes, newest first (shown by the control port's status). */
  readonly recent: RecentTap[] = [];

  constructor(private readonly opts: EndpointNodeOptions) {
    this.detector = new BleTapDetector(opts.ble);
  }

  async start(): Promise<void> {
    await this.opts.driver.start({ nfc: (r) => void this.onNfc(r), ble: (s) => this.onBle(s) });
    this.flushTimer = setInterval(() => this.flushAdverts(), ADVERT_FLUSH_MS);
    this.flushTimer.unref();
    this.opts.client.start();
  }

  async stop(): Promise<void> {
    clearInterval(this.flushTimer);
    await this.opts.driver.stop();
    await this.opts.client.stop();
  }

  private onNfc(read: NfcRead): Promise<RecentTap> {
    return this.tapNfc(read);
  }

  /**
   * An NFC read: an enrollment tap while the gateway has armed this terminal for an enrollment session
   * (a UID badge, or a band that can answer one), an ordinary tap otherwise.
   */
  tapNfc(read: NfcRead): Promise<RecentTap> {
    const session = this.opts.client.enrollment;
    if (session && (read.uid !== undefined || read.enroll)) return this.enrollRecorded(read);
    return this.sendRecorded({ kind: 'nfc', bandId: read.bandId, uid: read.uid, sign: read.sign });
  }

  private async enrollRecorded(read: NfcRead): Promise<RecentTap> {
    const entry = this.record({ at: new Date().toISOString(), kind: 'enroll', bandId: read.bandId });
    try {
      entry.enrollment = await this.opts.client.enrollTap(
        read.uid !== undefined ? { uid: read.uid } : { answer: read.enroll! },
      );
      log.info(
        { band: entry.enrollment.bandId, outcome: entry.enrollment.outcome, reason: entry.enrollment.reason },
        'enrollment tap answered',
      );
    } catch (e) {
      entry.error = (e as Error).message;
      log.warn({ band: read.bandId, err: entry.error }, 'enrollment tap failed');
    }
    return entry;
  }

  private record(entry: RecentTap): RecentTap {
    this.recent.unshift(entry);
    this.recent.length = Math.min(this.recent.length, 20);
    return entry;
  }

  private onBle(sample: BleSample): void {
    this.advertQueue.push({
      bandId: sample.bandId,
      rssi: sample.rssi,
      state: sample.state,
      seenAt: new Date(sample.atMs).toISOString(),
    });
    if (this.advertQueue.length >= MAX_ADVERTS_PER_FRAME) this.flushAdverts();
    const seen = this.detector.feed(sample.bandId, sample.rssi, sample.atMs);
    if (seen.tap) {
      log.info({ band: sample.bandId, average: seen.tapAverage }, 'BLE tap detected');
      void this.send({ kind: 'ble', bandId: sample.bandId, sign: sample.sign });
    }
  }

  private flushAdverts(): void {
    if (this.advertQueue.length === 0) return;
    const batch = this.advertQueue.splice(0, MAX_ADVERTS_PER_FRAME);
    // Adverts are soft state refreshed every second: dropping them while disconnected is harmless.
    this.opts.client.adverts(batch);
  }

  /** Sends a tap and records its outcome; resolves undefined when it could not be sent. */
  async send(req: TapRequest): Promise<TapResult | undefined> {
    return (await this.sendRecorded(req)).result;
  }

  /** Sends a tap; resolves with its own record (result or error), whatever other taps run meanwhile. */
  async sendRecorded(req: TapRequest): Promise<RecentTap> {
    const entry = this.record({ at: new Date().toISOString(), kind: req.kind, bandId: req.bandId });
    try {
      entry.result = await this.opts.client.tap(req);
      const d = entry.result.decision;
      log.info(
        { band: req.bandId, outcome: d.outcome, reason: d.reason, deliveredTo: entry.result.deliveredTo },
        'tap answered',
      );
    } catch (e) {
      entry.error = (e as Error).message;
      log.warn({ band: req.bandId, err: entry.error }, 'tap failed');
    }
    return entry;
  }
}
