import {
  BAND_CARD_AID,
  BAND_CARD_CLA,
  BAND_CARD_INS,
  BAND_CARD_VERSION,
  SW,
  parseSignChallengeData,
  respond,
} from './card-application';
import { exportBandPublicKeyRaw } from './keys';
import type { ProofFormat } from './proof';
import type { SoftwareBand } from './software-band';

/**
 * A software band's card face: answers the card application's APDUs (card-application.ts) as a band's
 * NFC chip would, for the virtual card in tests and the demo. `version: 1` plays a band of the older
 * protocol (proof format 1, no kind signed).
 */
export class BandCard {
  private selected = false;
  readonly version: ProofFormat;

  constructor(
    readonly band: SoftwareBand,
    opts: { version?: ProofFormat } = {},
  ) {
    this.version = opts.version ?? BAND_CARD_VERSION;
  }

  /** The card was powered up or reset: nothing is selected. */
  reset(): void {
    this.selected = false;
  }

  /** Answers one command APDU with a response APDU (data || SW1 SW2). Never throws. */
  process(apdu: Buffer): Buffer {
    if (apdu.length < 4) return respond(SW.wrongLength);
    const [cla, ins, p1, p2] = apdu;
    if (cla === 0x00 && ins === BAND_CARD_INS.select) {
      if (p1 !== 0x04 || p2 !== 0x00) return respond(SW.incorrectP1P2);
      const lc = apdu[4] ?? 0;
      const aid = apdu.subarray(5, 5 + lc);
      if (aid.length !== lc) return respond(SW.wrongLength);
      this.selected = aid.equals(BAND_CARD_AID);
      return this.selected ? respond(SW.ok, Buffer.from([this.version])) : respond(SW.fileNotFound);
    }
    if (!this.selected) return respond(SW.conditionsNotSatisfied);
    if (cla !== BAND_CARD_CLA) return respond(SW.claNotSupported);
    switch (ins) {
      case BAND_CARD_INS.getBandId:
        return respond(SW.ok, Buffer.from(this.band.bandId, 'ascii'));
      case BAND_CARD_INS.getPublicKey:
        return respond(SW.ok, Buffer.from(exportBandPublicKeyRaw(this.band.publicKey), 'base64url'));
      case BAND_CARD_INS.signChallenge:
        return this.sign(apdu, p1);
      default:
        return respond(SW.insNotSupported);
    }
  }

  private sign(apdu: Buffer, format: number): Buffer {
    if (format !== this.version) return respond(SW.incorrectP1P2);
    const lc = apdu[4];
    if (lc === undefined || apdu.length < 5 + lc) return respond(SW.wrongLength);
    const fields = parseSignChallengeData(apdu.subarray(5, 5 + lc));
    if (!fields) return respond(SW.wrongData);
    const proof = this.band.answerTap({
      ...fields,
      kind: this.version === 2 ? 'nfc' : undefined,
    });
    if (!proof) return respond(SW.conditionsNotSatisfied);
    return respond(SW.ok, Buffer.from(proof.signature, 'base64url'));
  }
}
