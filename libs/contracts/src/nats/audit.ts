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
    /** Single-use id; the relying party refuses a jti it has seen (replay). */
    jti: z.string(),
    /**
     * The relying party's own nonce from `login.request` / `esign.open` (as in OIDC): its server issued
     * it for this page, so an assertion obtained for another request does not verify there.
     */
    nonce: z.string().min(1).max(256).optional(),
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
        /** E-signature: whether the ceremony required a second, different signer (21 CFR 11.70). */
        secondSignerRequired: z.boolean().optional(),
        /** E-signature: the relying party's hash of what is signed (`esign.open` recordHash), echoed. */
        recordHash: z.string().min(1).max(128).optional(),
        /** E-signature, signer 2: the `jti` of signer 1's assertion in the same ceremony. */
        firstSignature: z.string().optional(),
      })
      .strict(),
  })
  .strict();
export type AssertionClaims = z.infer<typeof AssertionClaims>;

/**
 * Longest lifetime (`exp - iat`) of an assertion: the most `[assertions].ttl_seconds` allows, and more
 * than any verifier accepts.
 */
export const ASSERTION_MAX_LIFETIME_SECONDS = 600;

/** One audited decision. Records are hash-chained: `hash` = SHA-256 over `prevHash` and the record body. */
export const AuditRecord = z
  .object({
    v: z.literal(1),
    at: IsoTime,
    /**
     * login / esign: what an application's login request or e-signature ceremony did with a tap (or how
     * it ended). tap: a tap as its endpoint was answered, written once per tap by the endpoint's gateway,
     * whether or not any application used it (so taps without a login or ceremony are in the trail too).
     */
    kind: z.enum(['login', 'esign', 'tap']),
    terminalId: TerminalId,
    tapId: z.string().optional(),
    /** The band that tapped (absent for UID-only taps); an unknown band is known only by this. */
    bandId: BandId.optional(),
    /**
     * granted/refused: one decision. expired/cancelled/completed/abandoned: how a login request or a
     * ceremony ended (abandoned: its application socket or gateway went away). voided: a grant whose
     * append was not confirmed in time; the application was told "refused", so an earlier record of
     * that grant (same tapId and kind), if the stream holds one, was never handed out.
     */
    outcome: z.enum(['granted', 'refused', 'expired', 'cancelled', 'completed', 'abandoned', 'voided']),
    reason: z.string().optional(),
    user: DecisionUser.optional(),
    status: z.string().optional(),
    decision: TapDecision.optional(),
    ceremonyId: z.string().optional(),
    esignReason: z.string().optional(),
    /** E-signature: the signer's comment from `esign.open`, when the application gave one. */
    esignComment: z.string().optional(),
    signer: z.union([z.literal(1), z.literal(2)]).optional(),
    /** Assertion id (jti) issued with a grant. */
    assertionId: z.string().optional(),
    /** E-signature: whether a second signer was required; the relying party's record hash, if given. */
    secondSignerRequired: z.boolean().optional(),
    recordHash: z.string().optional(),
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
