import { z } from 'zod';
import { BadgeUid, BandId, EnrollmentSessionId, IsoTime, SamAccountName, TerminalId } from '../ids';
import { DecisionUser, EnrollKind, EnrollRefusalCode, TapProof } from '../socket/messages';
import { BandPublicJwk } from './records';
import type { RequestContract } from './subjects';

// Enrollment by tap (docs/protocol.md, "Enrollment by tap"): the policy service opens a session for one
// terminal, the gateway holding that terminal's endpoint arms it, and the enrollment tap comes back to the
// policy service through the gateway, which has verified the band's proof of possession.

const V = 1;

/** How long a session waits for its tap when the administrator does not say (and the bounds). */
export const ENROLLMENT_SESSION_DEFAULT_SECONDS = 120;
export const ENROLLMENT_SESSION_MAX_SECONDS = 600;
export const ENROLLMENT_SESSION_MIN_SECONDS = 10;

/** The last refusals a session keeps, so the console can say why a tap did not enroll. */
export const MAX_SESSION_ATTEMPTS = 10;

const Actor = z.object({ by: z.string().max(256), at: IsoTime }).strict();

export const EnrollmentAttempt = z
  .object({
    at: IsoTime,
    kind: EnrollKind,
    bandId: BandId.optional(),
    reason: EnrollRefusalCode,
    message: z.string().max(512),
  })
  .strict();
export type EnrollmentAttempt = z.infer<typeof EnrollmentAttempt>;

/**
 * One terminal's enrollment session, stored under the terminal id in KvBuckets.enrollmentSessions. The
 * key is the "one session per terminal" lock: a session is opened with a KV create (or an update at the
 * revision of a closed one), and it is used, cancelled or expired with an update at the revision read,
 * so concurrent administrators and taps cannot both win.
 */
export const EnrollmentSessionRecord = z
  .object({
    v: z.literal(V),
    sessionId: EnrollmentSessionId,
    terminalId: TerminalId,
    /** Who the tapped band or badge is enrolled to (resolved in the directory when the tap arrives). */
    user: z.object({ sAMAccountName: SamAccountName }).strict(),
    accept: z.array(EnrollKind).min(1).max(2),
    /** `waiting` past `expiresAt` reads as expired; the record is not rewritten for it. */
    state: z.enum(['waiting', 'enrolled', 'cancelled']),
    expiresAt: IsoTime,
    opened: Actor.extend({ via: z.enum(['session', 'bearer', 'break-glass']) }),
    closed: Actor.optional(),
    /** What the session enrolled. */
    enrolled: z
      .object({ bandId: BandId, kind: EnrollKind, warning: z.string().max(512).optional() })
      .strict()
      .optional(),
    attempts: z.array(EnrollmentAttempt).max(MAX_SESSION_ATTEMPTS),
  })
  .strict();
export type EnrollmentSessionRecord = z.infer<typeof EnrollmentSessionRecord>;

/** Policy -> the gateway holding a terminal's endpoint: expect an enrollment tap, or stop expecting one. */
export const EnrollmentStationCommand = z
  .object({
    v: z.literal(V),
    action: z.enum(['arm', 'disarm']),
    /** Disarm only: why the session ended (what the endpoint's `enroll.end` says). */
    ended: z.enum(['enrolled', 'cancelled', 'expired']).optional(),
    sessionId: EnrollmentSessionId,
    terminalId: TerminalId,
    expiresAt: IsoTime,
    accept: z.array(EnrollKind).min(1).max(2),
  })
  .strict();
export type EnrollmentStationCommand = z.infer<typeof EnrollmentStationCommand>;
export const EnrollmentStationAck = z.object({ v: z.literal(V), delivered: z.boolean() }).strict();

/**
 * Every gateway replica subscribes to the wildcard (no queue); only the replica holding the terminal's
 * endpoint socket answers, so no answer within the policy service's wait means the terminal is offline.
 */
export const EnrollmentStation: RequestContract<
  EnrollmentStationCommand,
  z.infer<typeof EnrollmentStationAck>
> = {
  subject: `tapgate.v${V}.enrollment.station.*`,
  schema: EnrollmentStationCommand,
  reply: EnrollmentStationAck,
};
export const enrollmentStationSubject = (terminalId: string): string =>
  `tapgate.v${V}.enrollment.station.${terminalId}`;

/** What the endpoint presented: a band whose proof the gateway verified, or a badge UID. */
export const EnrollmentEvidence = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('band'), bandId: BandId, publicKey: BandPublicJwk, proof: TapProof }).strict(),
  z.object({ kind: z.literal('uid'), uid: BadgeUid }).strict(),
]);
export type EnrollmentEvidence = z.infer<typeof EnrollmentEvidence>;

export const EnrollmentTapRequest = z
  .object({
    v: z.literal(V),
    sessionId: EnrollmentSessionId,
    /** The terminal whose authenticated endpoint sent the tap. */
    terminalId: TerminalId,
    tapId: z.string().min(1).max(64),
    gateway: z.string().max(256),
    evidence: EnrollmentEvidence,
  })
  .strict();
export type EnrollmentTapRequest = z.infer<typeof EnrollmentTapRequest>;

export const EnrollmentTapOutcome = z
  .object({
    v: z.literal(V),
    outcome: z.enum(['enrolled', 'refused']),
    reason: EnrollRefusalCode.optional(),
    message: z.string().max(512),
    bandId: BandId.optional(),
    kind: EnrollKind.optional(),
    user: DecisionUser.optional(),
    warning: z.string().max(512).optional(),
  })
  .strict();
export type EnrollmentTapOutcome = z.infer<typeof EnrollmentTapOutcome>;

/** Gateway -> policy (one replica of the queue group): enroll what was tapped in this session. */
export const EnrollmentTap: RequestContract<EnrollmentTapRequest, EnrollmentTapOutcome> = {
  subject: `tapgate.v${V}.enrollment.tap`,
  schema: EnrollmentTapRequest,
  reply: EnrollmentTapOutcome,
  queue: 'policy',
};
