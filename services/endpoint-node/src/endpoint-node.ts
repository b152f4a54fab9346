import { BleTapDetector, CURRENT_PROOF_FORMAT, proofFormatOf } from '@tapgate/band';
import { LEGACY_MODE_VARIABLE } from '@tapgate/config';
import type { Advert, EnrollResult, TapResult } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { AgentClient, TapError, type TapRequest } from './agent-client';
import type { BandSigner, BleSample, NfcRead, ReaderDriver } from './drivers/driver';

const log = createLogger('endpoint-node');

/** Adverts are batched so a terminal with many bands nearby sends a few frames a second, not hundreds. */
const ADVERT_FLUSH_MS = 500;
const MAX_ADVERTS_PER_FRAME = 256;

export interface EndpointNodeOptions {
  client: AgentClient;
  driver: ReaderDriver;
  ble: { windowTap: number; windowLong: number; threshold: number };
  /**
   * NYMI_NEA_SUPPORT_LEGACY_MODE (docs/configuration.md): false refuses, at the terminal, bands that
   * speak only an older band protocol (plain UID badges, card application or proof format older than
   * the current one). Default true: they are sent on, and the gateway decides as policy says.
   */
  supportLegacyMode?: boolean;
}

/** The reason recorded for a tap refused at the terminal because its band speaks an older protocol. */
export const LEGACY_PROTOCOL_REFUSED = 'legacy_protocol';

/** A tap the terminal refused itself (never sent to the gateway), with its reason. */
export class LocalRefusal extends TapError {
  constructor(
    readonly reason: typeof LEGACY_PROTOCOL_REFUSED,
    message: string,
  ) {
    super(message);
  }
}

/** One tap as the control port's status shows it: a decision, an enrollment answer, or why it failed. */
export interface TapRecord {
  at: string;
  /** nfc, ble, or enroll (an enrollment tap). */
  kind: string;
  bandId?: string;
  uid?: string;
  reader?: string;
  result?: TapResult;
  enrollment?: EnrollResult;
  /** Refused by the terminal itself (legacy switch); nothing reached the gateway. */
  refused?: { reason: string; message: string };
  error?: string;
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
  readonly recent: TapRecord[] = [];

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

  private onNfc(read: NfcRead): Promise<TapRecord> {
    return this.tapNfc(read);
  }

  /**
   * An NFC read: an enrollment tap while the gateway has armed this terminal for an enrollment session
   * (a UID badge, or a band that can answer one), an ordinary tap otherwise. The legacy switch applies
   * to both: with it off, a plain UID badge is neither tapped nor enrolled here.
   */
  tapNfc(read: NfcRead): Promise<TapRecord> {
    const version = read.uid !== undefined && read.bandId === undefined ? 0 : read.protocolVersion;
    const req = { kind: 'nfc' as const, bandId: read.bandId, uid: read.uid, sign: this.guard(read.sign) };
    if (this.opts.supportLegacyMode === false && version !== undefined && version < CURRENT_PROOF_FORMAT) {
      const what = version === 0 ? 'a plain UID badge' : `band protocol version ${version}`;
      return this.refuseLocally(req, read.reader, legacyRefusal(what));
    }
    if (this.opts.client.enrollment && (read.uid !== undefined || read.enroll)) {
      return this.enrollRecorded(read);
    }
    return this.sendRecorded(req, read.reader);
  }

  private async enrollRecorded(read: NfcRead): Promise<TapRecord> {
    const entry = this.record({ kind: 'enroll', bandId: read.bandId, uid: read.uid }, read.reader);
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

  /**
   * With legacy mode off, a band whose proof turns out to be of an older format is refused even when the
   * driver could not tell its protocol before it signed (BLE, the simulated driver).
   */
  private guard(sign: BandSigner | undefined): BandSigner | undefined {
    if (!sign || this.opts.supportLegacyMode !== false) return sign;
    return async (challenge, terminalId) => {
      const proof = await sign(challenge, terminalId);
      if (proof && proofFormatOf(proof) < CURRENT_PROOF_FORMAT) {
        throw legacyRefusal(`proof format ${proofFormatOf(proof)}`);
      }
      return proof;
    };
  }

  private async refuseLocally(
    req: TapRequest,
    reader: string | undefined,
    refusal: LocalRefusal,
  ): Promise<TapRecord> {
    const entry = this.record(req, reader);
    entry.refused = { reason: refusal.reason, message: refusal.message };
    log.warn({ band: req.bandId, reader, reason: refusal.reason }, refusal.message);
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
      void this.send({ kind: 'ble', bandId: sample.bandId, sign: this.guard(sample.sign) });
    }
  }

  private flushAdverts(): void {
    if (this.advertQueue.length === 0) return;
    const batch = this.advertQueue.splice(0, MAX_ADVERTS_PER_FRAME);
    // Adverts are soft state refreshed every second: dropping them while disconnected is harmless.
    this.opts.client.adverts(batch);
  }

  /** Sends a tap and records its outcome; resolves undefined when it could not be sent. */
  async send(req: TapRequest, reader?: string): Promise<TapResult | undefined> {
    return (await this.sendRecorded(req, reader)).result;
  }

  private record(
    req: Pick<TapRequest, 'bandId' | 'uid'> & { kind: string },
    reader: string | undefined,
  ): TapRecord {
    const entry: TapRecord = {
      at: new Date().toISOString(),
      kind: req.kind,
      ...(req.bandId === undefined ? {} : { bandId: req.bandId }),
      ...(req.uid === undefined ? {} : { uid: req.uid }),
      ...(reader === undefined ? {} : { reader }),
    };
    this.recent.unshift(entry);
    this.recent.length = Math.min(this.recent.length, 20);
    return entry;
  }

  /** Sends a tap; resolves with its own record (result or error), whatever other taps run meanwhile. */
  async sendRecorded(req: TapRequest, reader?: string): Promise<TapRecord> {
    const entry = this.record(req, reader);
    try {
      entry.result = await this.opts.client.tap(req);
      const d = entry.result.decision;
      log.info(
        { band: req.bandId, outcome: d.outcome, reason: d.reason, deliveredTo: entry.result.deliveredTo },
        'tap answered',
      );
    } catch (e) {
      if (e instanceof LocalRefusal) {
        entry.refused = { reason: e.reason, message: e.message };
        log.warn({ band: req.bandId, reader, reason: e.reason }, e.message);
      } else {
        entry.error = (e as Error).message;
        log.warn({ band: req.bandId, reader, err: entry.error }, 'tap failed');
      }
    }
    return entry;
  }
}

function legacyRefusal(what: string): LocalRefusal {
  return new LocalRefusal(
    LEGACY_PROTOCOL_REFUSED,
    `refused at the terminal: ${what} speaks an older band protocol and ${LEGACY_MODE_VARIABLE}=0`,
  );
}
