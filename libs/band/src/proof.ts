import { sign, verify, type KeyObject } from 'node:crypto';
import { BAND_ID_PATTERN, TERMINAL_ID_PATTERN, type TapKind, type TapProof } from '@tapgate/contracts';
import { isP256 } from './keys';

/**
 * Tap proof, version 1: the wire contract between bands (or their simulators) and the gateway.
 *
 *   message   = UTF-8 bytes of  "tapgate-tap-v1\n" + challenge + "\n" + terminalId + "\n" + bandId + "\n" + timestamp
 *   timestamp = integer milliseconds since the Unix epoch, in decimal, no sign, no leading zeros
 *   signature = ECDSA over NIST P-256 with SHA-256 of `message`, in IEEE P1363 form (r || s, 32 bytes
 *               each, big-endian, 64 bytes in all), encoded base64url without padding (86 characters)
 *
 * - challenge is the gateway's base64url challenge exactly as issued (16-128 characters).
 * - terminalId and bandId match [A-Za-z0-9_-]{1,64}; no field can hold "\n", so the fields cannot
 *   be shifted into one another.
 * - The domain prefix "tapgate-tap-v1" keeps a band signature made for anything else from ever
 *   passing as a tap. A new format gets a new prefix.
 * - ECDSA signatures are malleable ((r, s) and (r, n - s) both verify). That is harmless here: a
 *   proof is accepted once because its challenge is single use, not because its bytes are unique.
 */
export const PROOF_DOMAIN = 'tapgate-tap-v1';

/**
 * Tap proof, version 2 (the current one): version 1's message with the tap kind appended,
 *
 *   message = UTF-8 bytes of  "tapgate-tap-v2\n" + challenge + "\n" + terminalId + "\n" + bandId + "\n"
 *                             + timestamp + "\n" + kind          (kind: "nfc" or "ble")
 *
 * and the same key, signature form and encoding. The band itself names the channel it answered on,
 * so an answer it gave over BLE cannot be relabelled by a terminal as an NFC tap (a site whose policy
 * allows only NFC taps can rely on that). A v2 proof says so in `format: 2`; a proof without `format`
 * is version 1.
 */
export const PROOF_DOMAIN_V2 = 'tapgate-tap-v2';

/** Proof format versions, oldest first; the last is what current bands make. */
export const PROOF_FORMATS = [1, 2] as const;
export type ProofFormat = (typeof PROOF_FORMATS)[number];
export const CURRENT_PROOF_FORMAT: ProofFormat = 2;

/** The version of a proof on the wire (absent `format` = 1). */
export function proofFormatOf(proof: TapProof): number {
  return proof.format ?? 1;
}

export interface ProofFields {
  challenge: string;
  terminalId: string;
  bandId: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/** What a version 2 proof signs besides the version 1 fields. */
export interface ProofOptions {
  /** 1 (legacy) or 2; defaults to 2 when `kind` is given, else 1. */
  format?: ProofFormat;
  kind?: TapKind;
}

const TAP_KINDS: readonly string[] = ['nfc', 'ble'];

/** The gateway's challenge as a band accepts it: 16-128 base64url characters. */
export const CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
const SIGNATURE_PATTERN = /^[A-Za-z0-9_-]{86}$/;
const SIGNATURE_BYTES = 64;

function fieldProblem(f: ProofFields): string | undefined {
  if (typeof f.challenge !== 'string' || !CHALLENGE_PATTERN.test(f.challenge)) {
    return 'challenge must be 16-128 base64url characters';
  }
  if (typeof f.terminalId !== 'string' || !TERMINAL_ID_PATTERN.test(f.terminalId)) {
    return 'terminalId must be 1-64 of A-Z a-z 0-9 _ -';
  }
  if (typeof f.bandId !== 'string' || !BAND_ID_PATTERN.test(f.bandId)) {
    return 'bandId must be 1-64 of A-Z a-z 0-9 _ -';
  }
  if (!Number.isSafeInteger(f.timestamp) || f.timestamp < 0) {
    return 'timestamp must be a non-negative integer (ms since epoch)';
  }
  return undefined;
}

function formatOf(opts: ProofOptions): ProofFormat {
  return opts.format ?? (opts.kind === undefined ? 1 : 2);
}

/**
 * The exact bytes a band signs (version 1, or version 2 with `kind`). Throws on fields that would make
 * the message ambiguous.
 */
export function proofMessage(fields: ProofFields, opts: ProofOptions = {}): Buffer {
  const problem = fieldProblem(fields);
  if (problem) throw new Error(`tap proof: ${problem}`);
  const format = formatOf(opts);
  if (format === 2 && (opts.kind === undefined || !TAP_KINDS.includes(opts.kind))) {
    throw new Error('tap proof: a version 2 proof needs kind "nfc" or "ble"');
  }
  if (format !== 1 && format !== 2) throw new Error(`tap proof: unknown format ${String(format)}`);
  return messageBytes(fields, format, opts.kind);
}

function messageBytes(f: ProofFields, format: ProofFormat, kind: TapKind | undefined): Buffer {
  const v1 = `${f.challenge}\n${f.terminalId}\n${f.bandId}\n${f.timestamp}`;
  return Buffer.from(format === 1 ? `${PROOF_DOMAIN}\n${v1}` : `${PROOF_DOMAIN_V2}\n${v1}\n${kind}`, 'utf8');
}

/** The TapProof for a signature made over `fields` (a band's raw 64-byte answer, for instance). */
export function proofFromSignature(
  fields: ProofFields,
  signature: Buffer,
  opts: ProofOptions = {},
): TapProof {
  const format = formatOf(opts);
  return {
    challenge: fields.challenge,
    terminalId: fields.terminalId,
    timestamp: fields.timestamp,
    signature: signature.toString('base64url'),
    ...(format === 1 ? {} : { format }),
  };
}

/** Signs a tap proof with the band's private key (what a band does when tapped). */
export function signProof(privateKey: KeyObject, fields: ProofFields, opts: ProofOptions = {}): TapProof {
  if (privateKey.type !== 'private' || !isP256(privateKey)) {
    throw new Error('tap proof: signing needs an EC P-256 private key');
  }
  const signature = sign('sha256', proofMessage(fields, opts), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return proofFromSignature(fields, signature, opts);
}

/**
 * True only when `proof.signature` is a valid signature by `publicKey` over the proof message for
 * `bandId` (and, for a version 2 proof, for the tap's `kind`). Never throws: malformed proofs, keys of
 * another type and garbage all give false. Freshness, single use and the terminal match are the
 * caller's checks (they need its state).
 */
export function verifyProof(publicKey: KeyObject, bandId: string, proof: TapProof, kind?: TapKind): boolean {
  return verifyWith(publicKey, proof, (p) => {
    const fields: ProofFields = {
      challenge: p.challenge,
      terminalId: p.terminalId,
      bandId,
      timestamp: p.timestamp,
    };
    if (fieldProblem(fields)) return undefined;
    const format = proofFormatOf(p);
    if (format !== 1 && format !== 2) return undefined;
    // A v2 proof is checked against the kind the tap claims; without one it cannot be checked at all.
    if (format === 2 && (kind === undefined || !TAP_KINDS.includes(kind))) return undefined;
    return messageBytes(fields, format, kind);
  });
}

function verifyWith(
  publicKey: KeyObject,
  proof: TapProof,
  message: (proof: TapProof) => Buffer | undefined,
): boolean {
  try {
    if (!proof || typeof proof !== 'object' || publicKey?.type !== 'public' || !isP256(publicKey)) {
      return false;
    }
    const bytes = message(proof);
    if (!bytes || typeof proof.signature !== 'string' || !SIGNATURE_PATTERN.test(proof.signature)) {
      return false;
    }
    const signature = Buffer.from(proof.signature, 'base64url');
    // Only the canonical encoding: the leftover bits of the last character must be zero.
    if (signature.length !== SIGNATURE_BYTES || signature.toString('base64url') !== proof.signature) {
      return false;
    }
    return verify('sha256', bytes, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Enrollment proof, version 1: how a new band proves, at an enrollment station, that it holds the
 * private key of the public key it presents (docs/protocol.md, "Enrollment by tap").
 *
 *   message = UTF-8 of "tapgate-enroll-v1\n" + challenge + "\n" + sessionId + "\n" + terminalId + "\n"
 *             + bandId + "\n" + timestamp
 *
 * with the same field rules, signature form and encoding as the tap proof. Its own domain keeps an
 * enrollment proof from ever passing as a tap (and the reverse); the session id binds it to the
 * administrator's session, the challenge to the gateway socket, the terminal to the station.
 */
export const ENROLL_PROOF_DOMAIN = 'tapgate-enroll-v1';

export interface EnrollProofFields extends ProofFields {
  sessionId: string;
}

const SESSION_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

function enrollMessage(f: EnrollProofFields): Buffer | undefined {
  if (fieldProblem(f) || typeof f.sessionId !== 'string' || !SESSION_PATTERN.test(f.sessionId)) {
    return undefined;
  }
  return Buffer.from(
    `${ENROLL_PROOF_DOMAIN}\n${f.challenge}\n${f.sessionId}\n${f.terminalId}\n${f.bandId}\n${f.timestamp}`,
    'utf8',
  );
}

/** The exact bytes a band signs for an enrollment. Throws on fields that would make it ambiguous. */
export function enrollProofMessage(fields: EnrollProofFields): Buffer {
  const bytes = enrollMessage(fields);
  if (!bytes) {
    throw new Error(
      'enrollment proof: invalid fields (see the tap proof rules; sessionId 8-64 of A-Z a-z 0-9 _ -)',
    );
  }
  return bytes;
}

/** Signs an enrollment proof with the band's private key (what a new band does at the station). */
export function signEnrollProof(privateKey: KeyObject, fields: EnrollProofFields): TapProof {
  if (privateKey.type !== 'private' || !isP256(privateKey)) {
    throw new Error('enrollment proof: signing needs an EC P-256 private key');
  }
  const signature = sign('sha256', enrollProofMessage(fields), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return proofFromSignature(fields, signature);
}

/** True only for a valid enrollment proof by `publicKey` for `bandId` in `sessionId`. Never throws. */
export function verifyEnrollProof(
  publicKey: KeyObject,
  bandId: string,
  sessionId: string,
  proof: TapProof,
): boolean {
  return verifyWith(publicKey, proof, (p) =>
    enrollMessage({
      challenge: p.challenge,
      terminalId: p.terminalId,
      bandId,
      sessionId,
      timestamp: p.timestamp,
    }),
  );
}
