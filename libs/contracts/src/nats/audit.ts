import { z } from 'zod';
import { BandId, IsoTime, TerminalId } from '../ids';
import { DecisionUser, TapDecision } from '../socket/messages';

/**
 * Claims of the signed assertion (compact JWS, ES256) an NEA receives for a granted login or
 * e-signature. Its server verifies signature, `aud`, `exp` and that `jti` was not used before.
 */
export const AssertionClaims = z
  .object({
    iss: z.string(),
    aud: z.string(),
    /** The user's sAMAccountName. */
    sub: z.string(),
    iat: z.number().int(),
    exp: z.number().int(),
    /** Single-use nonce. */
    jti: z.string(),
    tapgate: z
      .object({
        kind: z.enum(['login', 'esign']),
        terminalId: TerminalId,
        tapId: z.string(),
        bandId: BandId.optional(),
        displayName: z.string().optional(),
        status: z.string(),
        ceremonyId: z.string().optional(),
        reason: z.string().optional(),
        comment: z.string().optional(),
        signer: z.union([z.literal(1), z.literal(2)]).optional(),
        signedAt: IsoTime.optional(),
      })
      .strict(),
  })
  .strict();
export type AssertionClaims = z.infer<typeof AssertionClaims>;

/** One audited decision. Records are hash-chained: `hash` = SHA-256 over `prevHash` and the record body. */
export const AuditRecord = z
  .object({
    v: z.literal(1),
    at: IsoTime,
    kind: z.enum(['login', 'esign']),
    terminalId: TerminalId,
    tapId: z.string().optional(),
    outcome: z.enum(['granted', 'refused', 'expired', 'cancelled', 'completed']),
    reason: z.string().optional(),
    user: DecisionUser.optional(),
    status: z.string().optional(),
    decision: TapDecision.optional(),
    ceremonyId: z.string().optional(),
    esignReason: z.string().optional(),
    signer: z.union([z.literal(1), z.literal(2)]).optional(),
    /** Assertion id (jti) issued with a grant. */
    assertionId: z.string().optional(),
    audience: z.string().optional(),
    gateway: z.string(),
    /** Hash of the previous record (64 zeros for the first). */
    prevHash: z.string().regex(/^[0-9a-f]{64}$/),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type AuditRecord = z.infer<typeof AuditRecord>;

/** JetStream stream holding the audit trail (append-only: no deletes, no purges by clients). */
export const AUDIT_STREAM = 'TAPGATE_AUDIT';
export const AUDIT_SUBJECT = 'tapgate.v1.audit.decision';
