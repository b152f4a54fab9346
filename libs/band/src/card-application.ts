import { BAND_ID_PATTERN, TERMINAL_ID_PATTERN, type TapProof } from '@tapgate/contracts';
import {
  CHALLENGE_PATTERN,
  CURRENT_PROOF_FORMAT,
  proofFromSignature,
  type ProofFields,
  type ProofFormat,
} from './proof';

/**
 * The band's card application ("band as a card", docs/protocol.md §12): the APDUs a terminal sends to a
 * band (or a JavaCard applet, or a vendor's band) held on a PC/SC reader, and what it answers. Short
 * APDUs only (ISO 7816-4); every command fits in one.
 *
 *   SELECT         00 A4 04 00 08 F0 54 41 50 47 41 54 45 00   -> version (1 byte)        90 00
 *   GET BAND ID    80 10 00 00 00                              -> band id (ASCII)         90 00
 *   GET PUBLIC KEY 80 12 00 00 00                              -> 04 || X || Y (65 bytes) 90 00
 *   SIGN CHALLENGE 80 20 <format> 00 Lc <data> 00              -> r || s (64 bytes)       90 00
 *     data = timestamp (8 bytes, big-endian ms since the epoch) || len(terminalId) (1 byte)
 *            || terminalId (ASCII) || challenge (ASCII, the gateway's base64url text)
 *
 * The application's version is the band protocol version: version 1 signs proof format 1, version 2
 * proof format 2 with kind "nfc" (the card face is the NFC channel). A card has no clock, so the
 * terminal supplies the timestamp and the band signs it; freshness rests on the single-use challenge.
 */
export const BAND_CARD_AID = Buffer.from('F054415047415445', 'hex'); // F0 + "TAPGATE": proprietary RID
export const BAND_CARD_CLA = 0x80;
export const BAND_CARD_INS = {
  select: 0xa4,
  getBandId: 0x10,
  getPublicKey: 0x12,
  signChallenge: 0x20,
} as const;
/** The application version current bands implement (= the band protocol version). */
export const BAND_CARD_VERSION: ProofFormat = CURRENT_PROOF_FORMAT;

/** PC/SC part 3 "get data" pseudo-APDU: the reader answers with the card's anti-collision UID. */
export const GET_UID_APDU = Buffer.from('FFCA000000', 'hex');

/** The status words the application answers (ISO 7816-4 meanings). */
export const SW = {
  ok: 0x9000,
  wrongLength: 0x6700,
  /** The band is not authenticated (not worn, or the fingerprint not verified): it will not sign. */
  conditionsNotSatisfied: 0x6985,
  wrongData: 0x6a80,
  /** SELECT of an AID the card does not have. */
  fileNotFound: 0x6a82,
  /** SIGN CHALLENGE for a proof format the application does not make. */
  incorrectP1P2: 0x6a86,
  insNotSupported: 0x6d00,
  claNotSupported: 0x6e00,
} as const;

const SW_TEXT: Record<number, string> = {
  [SW.ok]: 'ok',
  [SW.wrongLength]: 'wrong length',
  [SW.conditionsNotSatisfied]: 'the band is not authenticated',
  [SW.wrongData]: 'the band rejected the request data',
  [SW.fileNotFound]: 'no Tapgate band application on this card',
  [SW.incorrectP1P2]: 'proof format not supported by the band',
  [SW.insNotSupported]: 'instruction not supported',
  [SW.claNotSupported]: 'class not supported',
};

/** Hex of a status word and what it means, for messages and logs. */
export function describeStatusWord(sw: number): string {
  const hex = sw.toString(16).toUpperCase().padStart(4, '0');
  return `${hex} (${SW_TEXT[sw] ?? 'unexpected status'})`;
}

export interface CardResponse {
  data: Buffer;
  sw: number;
}

/** Splits a response APDU into data and status word; a response shorter than 2 bytes is an error. */
export function parseResponse(response: Buffer): CardResponse {
  if (response.length < 2) {
    throw new BandCardError(`card answered ${response.length} byte(s), no status word`);
  }
  return { data: response.subarray(0, -2), sw: response.readUInt16BE(response.length - 2) };
}

/** Appends a status word to response data. */
export function respond(sw: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(data.length + 2);
  data.copy(out);
  out.writeUInt16BE(sw, data.length);
  return out;
}

export function selectApdu(aid: Buffer = BAND_CARD_AID): Buffer {
  return Buffer.concat([
    Buffer.from([0x00, BAND_CARD_INS.select, 0x04, 0x00, aid.length]),
    aid,
    Buffer.from([0]),
  ]);
}

/** The SIGN CHALLENGE command data; throws on fields a band could not sign unambiguously. */
export function signChallengeApdu(fields: Omit<ProofFields, 'bandId'>, format: ProofFormat): Buffer {
  if (!TERMINAL_ID_PATTERN.test(fields.terminalId)) throw new BandCardError('invalid terminal id');
  if (!CHALLENGE_PATTERN.test(fields.challenge)) throw new BandCardError('invalid challenge');
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0) {
    throw new BandCardError('invalid timestamp');
  }
  const terminal = Buffer.from(fields.terminalId, 'ascii');
  const data = Buffer.concat([
    Buffer.alloc(8),
    Buffer.from([terminal.length]),
    terminal,
    Buffer.from(fields.challenge, 'ascii'),
  ]);
  data.writeBigUInt64BE(BigInt(fields.timestamp), 0);
  return Buffer.concat([
    Buffer.from([BAND_CARD_CLA, BAND_CARD_INS.signChallenge, format, 0x00, data.length]),
    data,
    Buffer.from([0]),
  ]);
}

/** The fields of a SIGN CHALLENGE command's data, or undefined when they are malformed. */
export function parseSignChallengeData(
  data: Buffer,
): { timestamp: number; terminalId: string; challenge: string } | undefined {
  if (data.length < 9) return undefined;
  const timestamp = data.readBigUInt64BE(0);
  const len = data[8];
  if (timestamp > BigInt(Number.MAX_SAFE_INTEGER) || data.length < 9 + len) return undefined;
  const terminalId = data.subarray(9, 9 + len).toString('latin1');
  const challenge = data.subarray(9 + len).toString('latin1');
  if (!TERMINAL_ID_PATTERN.test(terminalId) || !CHALLENGE_PATTERN.test(challenge)) return undefined;
  return { timestamp: Number(timestamp), terminalId, challenge };
}

export class BandCardError extends Error {
  override readonly name = 'BandCardError';
  constructor(
    message: string,
    /** The status word the card answered, when it answered one. */
    readonly sw?: number,
  ) {
    super(message);
  }
}

/** Sends one command APDU and resolves with the response APDU (data and status word). */
export type Transmit = (command: Buffer) => Promise<Buffer>;

/** What a terminal learns when it selects the band application on a card. */
export interface BandCardIdentity {
  bandId: string;
  /** The application version the card reported (= the band protocol version it speaks). */
  version: number;
}

/**
 * The terminal's side of the application: selects it and reads the band id. Resolves undefined when the
 * card has no band application (any SELECT answer but 90 00: a plain badge), so the caller can read the
 * UID instead; throws BandCardError on a band that answers but breaks the protocol.
 */
export async function identifyBandCard(transmit: Transmit): Promise<BandCardIdentity | undefined> {
  const selected = parseResponse(await transmit(selectApdu()));
  if (selected.sw !== SW.ok) return undefined;
  if (selected.data.length < 1) throw new BandCardError('the band application did not report its version');
  const version = selected.data[0];
  const id = parseResponse(
    await transmit(Buffer.from([BAND_CARD_CLA, BAND_CARD_INS.getBandId, 0x00, 0x00, 0x00])),
  );
  if (id.sw !== SW.ok) {
    throw new BandCardError(`GET BAND ID answered ${describeStatusWord(id.sw)}`, id.sw);
  }
  const bandId = id.data.toString('latin1');
  if (!BAND_ID_PATTERN.test(bandId)) throw new BandCardError('the band reported an invalid band id');
  return { bandId, version };
}

/**
 * Asks a selected band to sign the gateway's challenge for this terminal and returns the TapProof the
 * gateway verifies. The proof format is the card's version (1: legacy; 2: signs kind "nfc").
 */
export async function signWithBandCard(
  transmit: Transmit,
  card: BandCardIdentity,
  request: { challenge: string; terminalId: string; timestamp?: number },
): Promise<TapProof> {
  if (card.version !== 1 && card.version !== 2) {
    throw new BandCardError(`band application version ${card.version} is not supported`);
  }
  const format: ProofFormat = card.version;
  const fields = {
    challenge: request.challenge,
    terminalId: request.terminalId,
    bandId: card.bandId,
    timestamp: request.timestamp ?? Date.now(),
  };
  const answer = parseResponse(await transmit(signChallengeApdu(fields, format)));
  if (answer.sw !== SW.ok) {
    throw new BandCardError(`SIGN CHALLENGE answered ${describeStatusWord(answer.sw)}`, answer.sw);
  }
  if (answer.data.length !== 64) {
    throw new BandCardError(`SIGN CHALLENGE returned ${answer.data.length} bytes, not a 64-byte signature`);
  }
  return proofFromSignature(fields, answer.data, format === 2 ? { format, kind: 'nfc' } : { format });
}
