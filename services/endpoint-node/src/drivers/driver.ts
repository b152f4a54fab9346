import type { EnrollmentAnswer } from '@tapgate/band';
import type { TapProof } from '@tapgate/contracts';

/** A band or badge read by a reader. `sign` is how the band answers the gateway's challenge. */
export interface NfcRead {
  bandId?: string;
  uid?: string;
  sign?: (challenge: string, terminalId: string) => TapProof | undefined;
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
  sign?: (challenge: string, terminalId: string) => TapProof | undefined;
}

/** Where a driver reports what it reads. */
export interface DriverSink {
  nfc(read: NfcRead): void;
  ble(sample: BleSample): void;
}

/**
 * A reader driver: simulated today; PC/SC NFC and BLE adapters later implement the same interface.
 */
export interface ReaderDriver {
  readonly name: string;
  start(sink: DriverSink): Promise<void>;
  stop(): Promise<void>;
}
