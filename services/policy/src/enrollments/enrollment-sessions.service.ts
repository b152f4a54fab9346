import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { importBandPublicKey, verifyEnrollProof } from '@tapgate/band';
import {
  EnrollRefusalReason,
  EnrollmentSessionRecord,
  EnrollmentStation,
  EnrollmentTap,
  KvBuckets,
  MAX_SESSION_ATTEMPTS,
  enrollmentStationSubject,
  type EnrollmentEvidence,
  type EnrollmentTapOutcome,
  type EnrollmentTapRequest,
  type EnrollmentRecord,
} from '@tapgate/contracts';
import { Messaging, type Unsubscribe } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { randomBytes } from 'node:crypto';
import { AdminAuditLog } from '../audit/admin-audit';
import type { Principal } from '../auth/principal';
import { ApiError, notFound } from '../common/api-error';
import { Buckets } from '../store/buckets';
import { RevisionedStore, type Versioned } from '../store/revisioned-store';
import { TerminalsService } from '../terminals/terminals.service';
import type { OpenEnrollmentSessionRequest } from './enrollment.requests';
import { EnrollmentsService, UID_WARNING, type SessionActor } from './enrollments.service';

/** A session as the API shows it: `waiting` past its expiry reads `expired`. */
export type EnrollmentSessionView = Omit<EnrollmentSessionRecord, 'state'> & {
  state: EnrollmentSessionRecord['state'] | 'expired';
  revision: number;
};

/**
 * How long the policy service waits for the gateway holding the terminal to arm it: only that replica
 * answers, so no answer in this time (or no gateway at all) means the terminal is offline.
 */
const STATION_TIMEOUT_MS = 2000;

type Refusal = Omit<EnrollmentTapOutcome, 'v' | 'outcome'> & { reason: EnrollRefusalReason };

const refusal = (reason: EnrollRefusalReason, message: string): Refusal => ({ reason, message });

function isOpen(s: EnrollmentSessionRecord, now: number): boolean {
  return s.state === 'waiting' && Date.parse(s.expiresAt) > now;
}

function viewOf(v: Versioned<EnrollmentSessionRecord>, now = Date.now()): EnrollmentSessionView {
  const expired = v.value.state === 'waiting' && Date.parse(v.value.expiresAt) <= now;
  return { ...v.value, state: expired ? 'expired' : v.value.state, revision: v.revision };
}

/**
 * Enrollment by tap (docs/protocol.md, "Enrollment by tap"). An administrator opens a session for one
 * terminal; the gateway holding that terminal's endpoint arms it; the band tapped there comes back through
 * the gateway (which verified its proof of possession) on EnrollmentTap, and is enrolled through the same
 * EnrollmentsService call as a pasted key. One session per terminal and one enrollment per session are
 * each decided by a KV write at the revision read, never by a read followed by a blind write.
 */
@Injectable()
export class EnrollmentSessionsService implements OnModuleInit, OnModuleDestroy {
  private readonly log = createLogger('enrollment-sessions');
  private readonly store: RevisionedStore<EnrollmentSessionRecord>;
  private stopResponding: Unsubscribe | undefined;

  constructor(
    buckets: Buckets,
    private readonly messaging: Messaging,
    private readonly enrollments: EnrollmentsService,
    private readonly terminals: TerminalsService,
    private readonly audit: AdminAuditLog,
  ) {
    this.store = new RevisionedStore(
      buckets,
      KvBuckets.enrollmentSessions,
      EnrollmentSessionRecord,
      'enrollment session of terminal',
    );
  }

  onModuleInit(): void {
    this.stopResponding = this.messaging.respond(EnrollmentTap, (req) => this.onTap(req));
  }

  onModuleDestroy(): void {
    this.stopResponding?.();
  }

  async open(req: OpenEnrollmentSessionRequest, actor: Principal): Promise<EnrollmentSessionView> {
    const terminal = await this.terminals.get(req.terminalId);
    if (!terminal.value.enabled) {
      throw new ApiError('conflict', `terminal ${req.terminalId} is disabled`, 'terminalId');
    }
    // Refused now rather than when the band is tapped: the user must exist in the directory.
    await this.enrollments.checkUser(req.user.sAMAccountName);
    const now = Date.now();
    const record: EnrollmentSessionRecord = {
      v: 1,
      sessionId: randomBytes(16).toString('base64url'),
      terminalId: req.terminalId,
      user: { sAMAccountName: req.user.sAMAccountName },
      accept: req.accept,
      state: 'waiting',
      expiresAt: new Date(now + req.timeoutSeconds * 1000).toISOString(),
      opened: { by: actor.name, via: actor.via, at: new Date(now).toISOString() },
      attempts: [],
    };
    const revision = await this.claimTerminal(record, now);
    try {
      const ack = await this.messaging.request(EnrollmentStation, this.command('arm', record), {
        subject: enrollmentStationSubject(record.terminalId),
        timeoutMs: STATION_TIMEOUT_MS,
      });
      if (!ack.delivered) throw new Error('the gateway has no socket for the terminal');
    } catch (e) {
      this.log.info({ terminal: record.terminalId, why: (e as Error).message }, 'terminal offline');
      // Frees the terminal again (at the revision written: never another administrator's session).
      await this.store.delete(record.terminalId, revision).catch(() => undefined);
      throw new ApiError(
        'terminal_offline',
        `terminal ${record.terminalId} is offline: its endpoint node is not connected to a gateway. Start it, then try again.`,
        'terminalId',
      );
    }
    await this.audit.record(actor, 'enrollment_session.open', {
      target: { type: 'terminal', id: record.terminalId },
      after: record,
    });
    return viewOf({ value: record, revision }, now);
  }

  async get(terminalId: string): Promise<EnrollmentSessionView> {
    const found = await this.store.get(terminalId);
    if (!found) throw notFound('enrollment session of terminal', terminalId);
    return viewOf(found);
  }

  /** Cancels the terminal's open session (only `sessionId`, when given); a closed one is returned as it is. */
  async cancel(
    terminalId: string,
    sessionId: string | undefined,
    actor: Principal,
  ): Promise<EnrollmentSessionView> {
    for (;;) {
      const current = await this.store.get(terminalId);
      if (!current || (sessionId !== undefined && current.value.sessionId !== sessionId)) {
        throw notFound('enrollment session', sessionId ?? terminalId);
      }
      if (!isOpen(current.value, Date.now())) return viewOf(current);
      const closed: EnrollmentSessionRecord = {
        ...current.value,
        state: 'cancelled',
        closed: { by: actor.name, at: new Date().toISOString() },
      };
      let revision: number;
      try {
        revision = await this.store.update(terminalId, closed, current.revision);
      } catch (e) {
        // A tap (or another administrator) changed it meanwhile: decide again on what is there now.
        if (e instanceof ApiError && e.code === 'conflict') continue;
        throw e;
      }
      this.disarm(closed);
      await this.audit.record(actor, 'enrollment_session.cancel', {
        target: { type: 'terminal', id: terminalId },
        before: current.value,
        after: closed,
      });
      return viewOf({ value: closed, revision });
    }
  }

  /** The one-per-terminal check-then-act: a KV create, or an update at the revision of a closed session. */
  private async claimTerminal(record: EnrollmentSessionRecord, now: number): Promise<number> {
    const busy = (s: EnrollmentSessionRecord) =>
      new ApiError(
        'session_open',
        `terminal ${s.terminalId} already has an enrollment session, opened by ${s.opened.by} for ${s.user.sAMAccountName} until ${s.expiresAt}; cancel it first`,
        'terminalId',
      );
    const current = await this.store.get(record.terminalId);
    if (current && isOpen(current.value, now)) throw busy(current.value);
    try {
      return current
        ? await this.store.update(record.terminalId, record, current.revision)
        : await this.store.create(record.terminalId, record);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'conflict')) throw e;
      const winner = await this.store.get(record.terminalId);
      throw winner ? busy(winner.value) : e;
    }
  }

  private command(action: 'arm' | 'disarm', s: EnrollmentSessionRecord) {
    return {
      v: 1 as const,
      action,
      ...(action === 'disarm' && s.state !== 'waiting' ? { ended: s.state } : {}),
      sessionId: s.sessionId,
      terminalId: s.terminalId,
      expiresAt: s.expiresAt,
      accept: s.accept,
    };
  }

  /** Tells the terminal to stop expecting the tap; it also stops by itself at the session's expiry. */
  private disarm(s: EnrollmentSessionRecord): void {
    this.messaging
      .request(EnrollmentStation, this.command('disarm', s), {
        subject: enrollmentStationSubject(s.terminalId),
        timeoutMs: STATION_TIMEOUT_MS,
      })
      .catch((e: unknown) =>
        this.log.info({ terminal: s.terminalId, why: (e as Error).message }, 'disarm not delivered'),
      );
  }

  /** The enrollment tap the gateway forwards. Every answer other than `enrolled` is a refusal with a reason. */
  async onTap(req: EnrollmentTapRequest): Promise<EnrollmentTapOutcome> {
    const current = await this.store.get(req.terminalId);
    const session = current?.value;
    if (!current || !session || session.sessionId !== req.sessionId) {
      return this.refused(req, undefined, await this.unknownSession(req));
    }
    const now = Date.now();
    const early = this.check(session, req, now);
    if (early) return this.refused(req, current, early);
    const ev = req.evidence;
    const bandId = ev.kind === 'band' ? ev.bandId : `uid-${ev.uid.toLowerCase()}`;
    if (await this.enrollments.exists(bandId)) {
      return this.refused(req, current, alreadyEnrolled(ev, bandId));
    }
    // Single use: the session is claimed (waiting -> enrolled) at the revision read before enrolling.
    const warning = ev.kind === 'uid' ? UID_WARNING : undefined;
    const used: EnrollmentSessionRecord = {
      ...session,
      state: 'enrolled',
      closed: { by: session.opened.by, at: new Date(now).toISOString() },
      enrolled: { bandId, kind: ev.kind, ...(warning ? { warning } : {}) },
    };
    let usedRevision: number;
    try {
      usedRevision = await this.store.update(req.terminalId, used, current.revision);
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 'conflict')) throw e;
      const now2 = await this.store.get(req.terminalId);
      const why = now2 && this.check(now2.value, req, Date.now());
      return this.refused(req, undefined, why ?? refusal(EnrollRefusalReason.SessionUsed, SESSION_USED));
    }
    const actor: SessionActor = { name: session.opened.by, via: session.opened.via };
    let created: Versioned<EnrollmentRecord>;
    try {
      created =
        ev.kind === 'band'
          ? await this.enrollments.enroll({ bandId, user: session.user, publicKey: ev.publicKey }, actor)
          : await this.enrollments.enrollUid({ uid: ev.uid, user: session.user }, actor);
    } catch (e) {
      // The session stays open for another tap, with this refusal shown to the administrator.
      const why = enrollRefusal(e, ev, bandId);
      await this.store
        .update(req.terminalId, withAttempt({ ...session }, req, why), usedRevision)
        .catch(() => undefined);
      return { v: 1, outcome: 'refused', ...why };
    }
    await this.audit.record(actor, 'enrollment_session.enrolled', {
      target: { type: 'terminal', id: req.terminalId },
      after: { sessionId: session.sessionId, bandId, kind: ev.kind, tapId: req.tapId, gateway: req.gateway },
    });
    // The endpoint that sent the tap stops expecting by itself; another socket of the terminal (after a
    // reconnect elsewhere) learns it here.
    this.disarm(used);
    const user = created.value.user;
    this.log.info({ terminal: req.terminalId, bandId, kind: ev.kind }, 'enrolled by tap');
    return {
      v: 1,
      outcome: 'enrolled',
      message:
        ev.kind === 'band'
          ? `Band ${bandId} enrolled to ${user.displayName ?? user.sAMAccountName}.`
          : `Badge ${ev.uid.toLowerCase()} enrolled to ${user.displayName ?? user.sAMAccountName}.`,
      bandId,
      kind: ev.kind,
      user: {
        sAMAccountName: user.sAMAccountName,
        dn: user.dn,
        ...(user.displayName ? { displayName: user.displayName } : {}),
      },
      ...(warning ? { warning } : {}),
    };
  }

  /** The refusals that need no write: the session's state, its terminal, the kind, the band's proof. */
  private check(s: EnrollmentSessionRecord, req: EnrollmentTapRequest, now: number): Refusal | undefined {
    if (s.sessionId !== req.sessionId) {
      return refusal(EnrollRefusalReason.NoSession, NO_SESSION);
    }
    if (s.state === 'enrolled') return refusal(EnrollRefusalReason.SessionUsed, SESSION_USED);
    if (s.state === 'cancelled') {
      return refusal(EnrollRefusalReason.SessionCancelled, 'The enrollment session was cancelled.');
    }
    if (Date.parse(s.expiresAt) <= now) {
      return refusal(
        EnrollRefusalReason.SessionExpired,
        'The enrollment session expired. Start a new one in the console.',
      );
    }
    const ev = req.evidence;
    if (!s.accept.includes(ev.kind)) {
      return refusal(
        EnrollRefusalReason.KindNotAccepted,
        ev.kind === 'uid'
          ? 'This session enrolls bands only, and a UID badge was tapped.'
          : 'This session enrolls UID badges only, and a band was tapped.',
      );
    }
    if (ev.kind === 'band') {
      if (ev.proof.terminalId !== req.terminalId) {
        return refusal(EnrollRefusalReason.WrongTerminal, 'The band signed for another terminal.');
      }
      let key;
      try {
        key = importBandPublicKey(ev.publicKey);
      } catch {
        return refusal(EnrollRefusalReason.InvalidKey, 'The band presented a key that is not a P-256 key.');
      }
      // The gateway verified it already; checked again here, where the enrollment is made.
      if (!verifyEnrollProof(key, ev.bandId, req.sessionId, ev.proof)) {
        return refusal(EnrollRefusalReason.BadSignature, BAD_PROOF);
      }
    }
    return undefined;
  }

  /** A session id this terminal does not hold: another terminal's (wrong_terminal), or none at all. */
  private async unknownSession(req: EnrollmentTapRequest): Promise<Refusal> {
    const all = await this.store.list().catch(() => []);
    const elsewhere = all.find((s) => s.value.sessionId === req.sessionId);
    return elsewhere
      ? refusal(
          EnrollRefusalReason.WrongTerminal,
          `This enrollment session is for terminal ${elsewhere.value.terminalId}, not ${req.terminalId}.`,
        )
      : refusal(EnrollRefusalReason.NoSession, NO_SESSION);
  }

  /** Answers a refusal and, when the session is this terminal's, shows it to the administrator. */
  private async refused(
    req: EnrollmentTapRequest,
    current: Versioned<EnrollmentSessionRecord> | undefined,
    why: Refusal,
  ): Promise<EnrollmentTapOutcome> {
    this.log.info({ terminal: req.terminalId, reason: why.reason }, 'enrollment tap refused');
    if (current && current.value.sessionId === req.sessionId && isOpen(current.value, Date.now())) {
      await this.store
        .update(req.terminalId, withAttempt(current.value, req, why), current.revision)
        .catch(() => undefined);
    }
    return { v: 1, outcome: 'refused', ...why };
  }
}

const NO_SESSION =
  'This terminal is not expecting an enrollment. Start "Enroll by tap" for it in the console first.';
const SESSION_USED = 'This enrollment session already enrolled a band. Start a new session for the next one.';
const BAD_PROOF =
  'The band could not prove that it holds its key. Tap again; if it happens again, the band may be faulty.';

function withAttempt(
  s: EnrollmentSessionRecord,
  req: EnrollmentTapRequest,
  why: Refusal,
): EnrollmentSessionRecord {
  const ev = req.evidence;
  const attempt = {
    at: new Date().toISOString(),
    kind: ev.kind,
    ...(ev.kind === 'band' ? { bandId: ev.bandId } : { bandId: `uid-${ev.uid.toLowerCase()}` }),
    reason: why.reason,
    message: why.message,
  };
  return { ...s, attempts: [...s.attempts, attempt].slice(-MAX_SESSION_ATTEMPTS) };
}

function alreadyEnrolled(ev: EnrollmentEvidence, bandId: string): Refusal {
  return refusal(
    EnrollRefusalReason.AlreadyEnrolled,
    ev.kind === 'band'
      ? `Band ${bandId} is already enrolled. Delete its enrollment first to enroll it again.`
      : `Badge ${ev.uid.toLowerCase()} is already enrolled. Delete its enrollment first to enroll it again.`,
  );
}

/** The enrollment path's own refusals (the same as for a pasted key), as enrollment-tap reasons. */
function enrollRefusal(e: unknown, ev: EnrollmentEvidence, bandId: string): Refusal {
  if (!(e instanceof ApiError)) {
    return refusal(EnrollRefusalReason.Internal, 'the enrollment could not be stored');
  }
  if (e.code === 'conflict') return alreadyEnrolled(ev, bandId);
  if (e.code === 'invalid_public_key') return refusal(EnrollRefusalReason.InvalidKey, e.message);
  if (e.code === 'unknown_user' || e.code === 'user_status_unavailable') {
    return refusal(EnrollRefusalReason.UserUnavailable, e.message);
  }
  return refusal(EnrollRefusalReason.Internal, e.message);
}
