import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { importBandPublicKey, verifyEnrollProof } from '@tapgate/band';
import {
  EnrollRefusalReason,
  EnrollmentStation,
  EnrollmentTap,
  type EnrollResult,
  type EnrollTap,
  type EnrollmentEvidence,
  type EnrollmentStationCommand,
} from '@tapgate/contracts';
import type { Messaging, Unsubscribe } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { CHALLENGE_REFUSALS } from '../endpoints/challenge-store';
import { frame, type Connection, type ServerFrame } from '../socket/connection';
import type { GatewaySettings } from '../settings';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';

const log = createLogger('enrollment-station');
const POLICY_ANSWER_MS = 5000;

type Outcome = Omit<EnrollResult, 'tapId' | 'challenge'>;

const refuse = (reason: EnrollRefusalReason, message: string): Outcome => ({
  outcome: 'refused',
  reason,
  message,
});

/**
 * The gateway's part of enrollment by tap (docs/protocol.md, "Enrollment by tap"). Every replica listens
 * to the policy service's arm/disarm commands for all terminals and answers only those for an endpoint it
 * holds (one subscription per replica, not per socket), passing them to the endpoint as `enroll.expect` /
 * `enroll.end`. An `enroll.tap` is checked like a tap (terminal, proof, single-use challenge of this
 * socket) and then handed to the policy service, which alone decides on the session.
 */
@Injectable()
export class EnrollmentStationService implements OnModuleInit, OnModuleDestroy {
  /** Terminal id -> its endpoint socket on this replica (the newest one). */
  private readonly endpoints = new Map<string, Connection>();
  private stop: Unsubscribe | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {}

  onModuleInit(): void {
    this.stop = this.messaging.respondWhenMine(EnrollmentStation, (cmd) =>
      Promise.resolve(this.command(cmd)),
    );
  }

  onModuleDestroy(): void {
    this.stop?.();
  }

  /** Called when an endpoint's hello was accepted: the newest socket of a terminal answers. */
  attach(conn: Connection): void {
    this.endpoints.set(conn.terminalId!, conn);
  }

  detach(conn: Connection): void {
    if (conn.terminalId !== undefined && this.endpoints.get(conn.terminalId) === conn) {
      this.endpoints.delete(conn.terminalId);
    }
  }

  /** Undefined (no answer) when this replica does not hold the terminal's endpoint. */
  private command(cmd: EnrollmentStationCommand): { v: 1; delivered: boolean } | undefined {
    const conn = this.endpoints.get(cmd.terminalId);
    if (!conn) return undefined;
    if (!conn.open) return { v: 1, delivered: false };
    if (cmd.action === 'arm') {
      conn.send('enroll.expect', { sessionId: cmd.sessionId, expiresAt: cmd.expiresAt, accept: cmd.accept });
    } else {
      conn.send('enroll.end', { sessionId: cmd.sessionId, state: cmd.ended ?? 'cancelled' });
    }
    log.info({ terminal: cmd.terminalId, action: cmd.action }, 'enrollment station command');
    return { v: 1, delivered: true };
  }

  async handleTap(
    conn: Connection,
    tap: EnrollTap,
    ref: string | undefined,
  ): Promise<ServerFrame<'enroll.result'>> {
    let outcome: Outcome;
    try {
      outcome = await this.decide(conn, tap, Date.now());
    } catch (e) {
      log.error({ err: e, tap: tap.tapId }, 'enrollment tap failed');
      outcome = refuse(EnrollRefusalReason.Internal, 'The enrollment could not be completed. Tap again.');
    }
    log.info(
      { terminal: conn.terminalId, tap: tap.tapId, outcome: outcome.outcome, reason: outcome.reason },
      'enrollment tap',
    );
    return frame(
      'enroll.result',
      { tapId: tap.tapId, ...outcome, challenge: conn.challenges?.issue(Date.now()) },
      ref,
    );
  }

  private async decide(conn: Connection, tap: EnrollTap, now: number): Promise<Outcome> {
    const terminalId = conn.terminalId!;
    let evidence: EnrollmentEvidence;
    if (tap.uid !== undefined) {
      evidence = { kind: 'uid', uid: tap.uid.toLowerCase() };
    } else {
      const { bandId, publicKey, proof } = tap;
      if (bandId === undefined || publicKey === undefined || proof === undefined) {
        return refuse(EnrollRefusalReason.BadSignature, 'The band gave no proof. Tap again.');
      }
      if (proof.terminalId !== terminalId) {
        return refuse(
          EnrollRefusalReason.WrongTerminal,
          'The band signed for another terminal. Tap again here.',
        );
      }
      let key;
      try {
        key = importBandPublicKey(publicKey);
      } catch {
        return refuse(EnrollRefusalReason.InvalidKey, 'The band presented a key that is not a P-256 key.');
      }
      if (!verifyEnrollProof(key, bandId, tap.sessionId, proof)) {
        return refuse(
          EnrollRefusalReason.BadSignature,
          'The band could not prove that it holds its key. Tap again; if it happens again, the band may be faulty.',
        );
      }
      const check = conn.challenges?.consume(proof.challenge, now) ?? 'unknown';
      if (check !== 'ok') {
        const { reason, message } = CHALLENGE_REFUSALS[check];
        return refuse(reason, message);
      }
      evidence = { kind: 'band', bandId, publicKey, proof };
    }
    let answer;
    try {
      answer = await this.messaging.request(
        EnrollmentTap,
        {
          v: 1,
          sessionId: tap.sessionId,
          terminalId,
          tapId: tap.tapId,
          gateway: this.settings.gatewayId,
          evidence,
        },
        // The policy service asks the directory for the user: allow it more than a tap's budget.
        { timeoutMs: Math.max(this.settings.tapTimeoutMs, POLICY_ANSWER_MS) },
      );
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'policy service did not answer an enrollment tap');
      return refuse(
        EnrollRefusalReason.Internal,
        'The enrollment service did not answer. Tap again in a moment.',
      );
    }
    const { v: _v, user: _user, ...rest } = answer;
    return rest;
  }
}
