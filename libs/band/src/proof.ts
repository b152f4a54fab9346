import { sign, verify, type KeyObject } from 'node:crypto';
import { BAND_ID_PATTERN, TERMINAL_ID_PATTERN, type TapProof } from '@tapgate/contracts';
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

export interface ProofFields {
  challenge: string;
  terminalId: string;
  bandId: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

const CHALLENGE_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;
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

/** The exact bytes a band signs. Throws on fields that would make the message ambiguous. */
export function proofMessage(fields: ProofFields): Buffer {
  const problem = fieldProblem(fields);
  if (problem) throw new Error(`tap proof: ${problem}`);
  return messageBytes(fields);
}

function messageBytes(f: ProofFields): Buffer {
  return Buffer.from(`${PROOF_DOMAIN}\n${f.challenge}\n${f.terminalId}\n${f.bandId}\n${f.timestamp}`, 'utf8');
}

/** Signs a tap proof with the band's private key (what a band does when tapped). */
export function signProof(privateKey: KeyObject, fields: ProofFields): TapProof {
  if (privateKey.type !== 'private' || !isP256(privateKey)) {
    throw new Error('tap proof: signing needs an EC P-256 private key');
  }
  const signature = sign('sha256', proofMessage(fields), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return {
    challenge: fields.challenge,
    terminalId: fields.terminalId,
    timestamp: fields.timestamp,
    signature: signature.toString('base64url'),
  };
}

/**
 * True only when `proof.signature` is a valid signature by `publicKey` over the proof message for
 * `bandId`. Never throws: malformed proofs, keys of another type and garbage all give false.
 * Freshness, single use and the terminal match are the caller's checks (they need its state).
 */
export function verifyProof(publicKey: KeyObject, bandId: string, proof: TapProof): boolean {
  return verifyWith(publicKey, proof, (p) => {
    const fields: ProofFields = {
      challenge: p.challenge,
      terminalId: p.terminalId,
      bandId,
      timestamp: p.timestamp,
    };
    return fieldProblem(fields) ? undefined : messageBytes(fields);
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
  return {
    challenge: fields.challenge,
    terminalId: fields.terminalId,
    timestamp: fields.timestamp,
    signature: signature.toString('base64url'),
  };
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
