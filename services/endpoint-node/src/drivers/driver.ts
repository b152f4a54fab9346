import type { EnrollmentAnswer } from '@tapgate/band';
import type { TapProof } from '@tapgate/contracts';

/**
 * How a band answers the gateway's challenge: a proof, or undefined when it stays silent (not
 * authenticated). A band on a card reader answers asynchronously and may fail (card pulled, garbled
 * answer): it then rejects with a message that says why.
 */
export type BandSigner = (
  challenge: string,
  terminalId: string,
) => TapProof | undefined | Promise<TapProof | undefined>;

/** A band or badge read by a reader. `sign` is how the band answers the gateway's challenge. */
export interface NfcRead {
  bandId?: string;
  uid?: string;
  sign?: BandSigner;
  /**
   * The band protocol version the band or badge speaks, when the driver learns it before signing
   * (docs/protocol.md §12): 0 for a plain UID badge, else the card application's version.
   */
  protocolVersion?: number;
  /** Which reader it was read on (several readers per terminal). */
  reader?: string;
  /**
   * How the band answers at an enrollment station (docs/protocol.md, "Enrollment by tap"): its id, public
   * key and enrollment proof. Absent when the read cannot enroll (then the tap goes as an ordinary one).
   */
  enroll?: (challenge: string, terminalId: string, sessionId: string) => EnrollmentAnswer | undefined;
}

/** One BLE advertisement heard by the adapter. */
export interface BleSample {
  bandId: string;
  rssi: number;
  state: 'authenticated' | 'on_wrist' | 'unclasped';
  atMs: number;
  sign?: BandSigner;
}

/** Where a driver reports what it reads. */
export interface DriverSink {
  nfc(read: NfcRead): void;
  ble(sample: BleSample): void;
}

/** A reader driver: simulated, PC/SC NFC (drivers/pcsc.ts), and BLE adapters implement it. */
export interface ReaderDriver {
  readonly name: string;
  start(sink: DriverSink): Promise<void>;
  stop(): Promise<void>;
}
