import {
  BadgeUid,
  BandId,
  ENROLLMENT_SESSION_DEFAULT_SECONDS,
  ENROLLMENT_SESSION_MAX_SECONDS,
  ENROLLMENT_SESSION_MIN_SECONDS,
  EnrollKind,
  EnrollmentSessionId,
  SamAccountName,
  TerminalId,
} from '@tapgate/contracts';
import { z } from 'zod';

/** A band public key as the API accepts it: PEM SPKI, base64url raw point (strings) or a JWK (object). */
export const PublicKeyInput = z.union([z.string().min(1).max(8192), z.record(z.string(), z.unknown())]);

export const EnrollRequest = z
  .object({
    bandId: BandId,
    user: z.object({ sAMAccountName: SamAccountName }).strict(),
    publicKey: PublicKeyInput,
  })
  .strict();
export type EnrollRequest = z.infer<typeof EnrollRequest>;

/** POST /v1/enrollments/{bandId}/binding: `{}` follows the bound object; a name re-enrolls to that account. */
export const RebindRequest = z
  .object({ user: z.object({ sAMAccountName: SamAccountName }).strict().optional() })
  .strict();

export const RekeyRequest = z.object({ publicKey: PublicKeyInput }).strict();

export const EnrollmentQuery = z
  .object({ user: SamAccountName.optional(), band: BandId.optional() })
  .strict();

/** POST /v1/enrollments/uid-badges: a plain NFC badge, identified by its UID alone. */
export const EnrollUidRequest = z
  .object({
    uid: BadgeUid,
    user: z.object({ sAMAccountName: SamAccountName }).strict(),
  })
  .strict();
export type EnrollUidRequest = z.infer<typeof EnrollUidRequest>;

/** POST /v1/enrollment-sessions: enroll by tap at a terminal. */
export const OpenEnrollmentSessionRequest = z
  .object({
    terminalId: TerminalId,
    user: z.object({ sAMAccountName: SamAccountName }).strict(),
    /** What the session enrolls: bands (default), and/or UID badges. */
    accept: z
      .array(EnrollKind)
      .min(1)
      .max(2)
      .refine((a) => new Set(a).size === a.length, 'accept: each kind once')
      .default(['band']),
    timeoutSeconds: z
      .number()
      .int()
      .min(ENROLLMENT_SESSION_MIN_SECONDS)
      .max(ENROLLMENT_SESSION_MAX_SECONDS)
      .default(ENROLLMENT_SESSION_DEFAULT_SECONDS),
  })
  .strict();
export type OpenEnrollmentSessionRequest = z.infer<typeof OpenEnrollmentSessionRequest>;

/** POST /v1/enrollment-sessions/{terminalId}/cancel: `sessionId` cancels only that session. */
export const CancelEnrollmentSessionRequest = z
  .object({ sessionId: EnrollmentSessionId.optional() })
  .strict();
