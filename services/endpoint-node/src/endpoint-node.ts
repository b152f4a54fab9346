import { BleTapDetector } from '@tapgate/band';
import type { Advert, TapResult } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { AgentClient, type TapRequest } from './agent-client';
import type { BleSample, NfcRead, ReaderDriver } from './drivers/driver';

const log = createLogger('endpoint-node');

/** Adverts are batched so a terminal with many bands nearby sends a few frames a second, not hundreds. */
const ADVERT_FLUSH_MS = 500;
const MAX_ADVERTS_PER_FRAME = 256;

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
  readonly recent: Array<{ at: string; kind: string; bandId?: string; result?: TapResult; error?: string }> =
    [];

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

  private onNfc(read: NfcRead): Promise<TapResult | undefined> {
    return this.send({ kind: 'nfc', bandId: read.bandId, uid: read.uid, sign: read.sign });
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
  async sendRecorded(req: TapRequest): Promise<(typeof this.recent)[number]> {
    const entry: (typeof this.recent)[number] = {
      at: new Date().toISOString(),
      kind: req.kind,
      bandId: req.bandId,
    };
    this.recent.unshift(entry);
    this.recent.length = Math.min(this.recent.length, 20);
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
