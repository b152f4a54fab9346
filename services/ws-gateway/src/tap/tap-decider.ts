import { Inject, Injectable } from '@nestjs/common';
import {
  PresenceGet,
  RefusalReason,
  badgeBandId,
  type StatusAnswer,
  type Tap,
  type TapDecision,
  type PresenceAnswer,
} from '@tapgate/contracts';
import { verifyProof } from '@tapgate/band';
import type { Messaging } from '@tapgate/messaging';
import { createLogger, rateLimitedLog } from '@tapgate/telemetry';
import { CHALLENGE_REFUSALS } from '../endpoints/challenge-store';
import type { Connection } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';
import { EnrollmentDirectory, type Enrollment } from './enrollments';
import { StatusMemory } from './status-memory';
import { TAP_POLICY_SOURCE, type TapPolicySource } from './tap-policy-source';

const log = createLogger('tap-decider');
// Per tap while user-status is down or overloaded: one line per window with the count (a line per tap adds load).
const warnStatusUnavailable = rateLimitedLog(log, 'user-status did not answer');

/**
 * Presence and user status are asked again, within the tap's budget, while no answer has come (see
 * Messaging.request): a replica on a host that fell silent stays in its queue group until NATS drops
 * the host, and each further try goes to a member chosen afresh. Presence is a Redis read, so it is
 * asked up to four times (every 500 ms with the default 2 s budget); user status at most twice, because a
 * cache miss reads the directory, which must not get four queries per tap when it is slow.
 */
const PRESENCE_REQUEST_ATTEMPTS = 4;
const STATUS_REQUEST_ATTEMPTS = 2;

const refuse = (reason: RefusalReason, message: string, extra: Partial<TapDecision> = {}): TapDecision => ({
  outcome: 'refused',
  reason,
  message,
  identifiedBy: 'none',
  ...extra,
});

/** Messages a worker may see, by status (POMSnet shows them on the login page). */
const STATUS_MESSAGES: Record<StatusAnswer['status'], string> = {
  active: 'Account active.',
  disabled: 'Your account is disabled in Active Directory.',
  locked_out: 'Your account is locked out.',
  password_expired: 'Your password has expired. Change it, then tap again.',
  must_change_password: 'You must change your password before you can tap.',
  account_expired: 'Your account has expired.',
  not_found: 'Your account was not found in the directory.',
  unavailable: 'The directory could not be reached; tap refused (unavailable).',
  not_configured: 'Biometric authentication service is not configured to return user status.',
  identity_changed:
    'This band was enrolled to an account whose name now belongs to someone else; ask an administrator to re-enroll it.',
};

/**
 * Decides one tap. Identification is local and cryptographic (enrolled key, fresh single-use challenge,
 * this terminal); then presence and AD user status are asked in parallel over NATS. Any failure, timeout
 * or unknown answer refuses: only a tap that passed every check is granted.
 */
@Injectable()
export class TapDecider {
  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly enrollments: EnrollmentDirectory,
    @Inject(TAP_POLICY_SOURCE) private readonly policies: TapPolicySource,
    private readonly statuses: StatusMemory,
  ) {}

  async decide(conn: Connection, tap: Tap, now: number): Promise<TapDecision> {
    if (tap.kind === 'ble' && !this.policies.anyAllows('allowBleTaps')) {
      return refuse(
        RefusalReason.BleNotAllowed,
        'Bluetooth taps are not allowed here. Tap your band on the NFC reader.',
      );
    }
    const identified = this.identify(conn, tap, now);
    if ('outcome' in identified) return identified;
    const { enrollment, identifiedBy } = identified;
    const user = {
      sAMAccountName: enrollment.record.user.sAMAccountName,
      dn: enrollment.record.user.dn,
      displayName: enrollment.record.user.displayName,
    };
    const timeoutMs = this.settings.tapTimeoutMs;
    // The user's groups (hence group policies) are known only from the status answer, so presence is
    // asked whenever some policy that could apply requires it, and the effective policy decides after.
    const askPresence = this.policies.presenceMayBeRequired(user.sAMAccountName);
    const [presence, status] = await Promise.allSettled([
      askPresence
        ? this.messaging.request(
            PresenceGet,
            { v: 1, bandId: enrollment.record.bandId },
            { timeoutMs, attempts: PRESENCE_REQUEST_ATTEMPTS },
          )
        : Promise.resolve(undefined),
      this.statuses.ask(
        // Bound enrollments are checked against their directory object, not just the name.
        {
          v: 1,
          user: { sAMAccountName: user.sAMAccountName },
          objectGUID: enrollment.record.user.objectGUID,
        },
        { timeoutMs, attempts: STATUS_REQUEST_ATTEMPTS },
      ),
    ]);
    const base = { identifiedBy, user };
    const groups = status.status === 'fulfilled' ? status.value.groups : undefined;
    const policy = this.policies.forUser(user.sAMAccountName, groups);
    if (tap.kind === 'ble' && !policy.allowBleTaps) {
      return {
        ...refuse(
          RefusalReason.BleNotAllowed,
          'Bluetooth taps are not allowed here. Tap your band on the NFC reader.',
        ),
        ...base,
      };
    }
    if (identifiedBy === 'uid' && !policy.allowUidTaps) {
      return {
        ...refuse(RefusalReason.UidNotAllowed, 'Badges without a band are not allowed here. Tap your band.'),
        ...base,
      };
    }
    if (policy.requirePresence) {
      const refusal = presenceRefusal(presence);
      if (refusal) return { ...refusal, ...base };
    }
    if (status.status === 'rejected') {
      warnStatusUnavailable({ err: (status.reason as Error).message });
      return refuse(RefusalReason.StatusUnavailable, STATUS_MESSAGES.unavailable, {
        ...base,
        status: 'unavailable',
      });
    }
    const answer = status.value;
    // The directory's current name and DN (a renamed account), never those of another object.
    const current = answer.status === 'identity_changed' ? undefined : answer.user;
    const withStatus = {
      ...base,
      status: answer.status,
      user: current ? { ...user, ...current, displayName: current.displayName ?? user.displayName } : user,
    };
    switch (answer.status) {
      case 'active':
        return {
          outcome: 'granted',
          message: `Welcome, ${withStatus.user.displayName ?? withStatus.user.sAMAccountName}.`,
          ...withStatus,
        };
      case 'unavailable':
        return refuse(RefusalReason.StatusUnavailable, STATUS_MESSAGES.unavailable, withStatus);
      case 'not_configured':
        return refuse(RefusalReason.StatusNotConfigured, STATUS_MESSAGES.not_configured, withStatus);
      case 'identity_changed':
        return refuse(RefusalReason.IdentityChanged, STATUS_MESSAGES.identity_changed, withStatus);
      case 'disabled':
      case 'locked_out':
      case 'password_expired':
      case 'must_change_password':
      case 'account_expired':
      case 'not_found':
        return refuse(RefusalReason.UserNotActive, STATUS_MESSAGES[answer.status], withStatus);
    }
  }

  private identify(
    conn: Connection,
    tap: Tap,
    now: number,
  ): TapDecision | { enrollment: Enrollment; identifiedBy: 'proof' | 'uid' } {
    if (!this.enrollments.ready()) {
      return refuse(RefusalReason.Internal, 'The authentication service is starting. Tap again in a moment.');
    }
    if (tap.proof === undefined) {
      if (tap.uid === undefined) {
        return refuse(RefusalReason.BadSignature, 'The tap could not be read. Tap again.');
      }
      if (!this.policies.anyAllows('allowUidTaps')) {
        return refuse(
          RefusalReason.UidNotAllowed,
          'Badges without a band are not allowed here. Tap your band.',
        );
      }
      // UID badges are enrolled under the band id "uid-<hex>" (kind `uid`, or a band record of that id
      // from before badges had their own kind); the decision says it rests on a UID.
      const enrollment = this.enrollments.get(badgeBandId(tap.uid));
      if (!enrollment) {
        return refuse(
          RefusalReason.UnknownBand,
          'This badge is not enrolled. Ask an administrator to enroll it.',
        );
      }
      if (!enrollment.record.active) {
        return refuse(RefusalReason.BandSuspended, 'This badge is suspended. Ask an administrator.');
      }
      return { enrollment, identifiedBy: 'uid' };
    }
    const bandId = tap.bandId;
    const enrollment = bandId === undefined ? undefined : this.enrollments.get(bandId);
    if (bandId === undefined || !enrollment) {
      return refuse(
        RefusalReason.UnknownBand,
        'This band is not enrolled. Ask an administrator to enroll it.',
      );
    }
    if (!enrollment.record.active) {
      return refuse(RefusalReason.BandSuspended, 'This band is suspended. Ask an administrator.');
    }
    if (tap.proof.terminalId !== conn.terminalId) {
      return refuse(RefusalReason.WrongTerminal, 'The tap was made at another terminal. Tap again here.');
    }
    if (!enrollment.publicKey || !verifyProof(enrollment.publicKey, bandId, tap.proof, tap.kind)) {
      return refuse(
        RefusalReason.BadSignature,
        'The band could not be verified. Tap again; if it happens again, ask an administrator.',
      );
    }
    const check = conn.challenges?.consume(tap.proof.challenge, now) ?? 'unknown';
    if (check === 'ok') return { enrollment, identifiedBy: 'proof' };
    const { reason, message } = CHALLENGE_REFUSALS[check];
    return refuse(reason, message);
  }
}

function presenceRefusal(result: PromiseSettledResult<PresenceAnswer | undefined>): TapDecision | undefined {
  if (result.status === 'rejected' || result.value === undefined) {
    if (result.status === 'rejected') {
      log.warn({ err: (result.reason as Error).message }, 'presence did not answer');
    }
    return refuse(RefusalReason.PresenceUnknown, 'Your band could not be found nearby. Tap again.');
  }
  const answer = result.value;
  if (!answer.known || !answer.band?.authenticated) {
    return refuse(
      RefusalReason.BandNotAuthenticated,
      'Your band is not authenticated. Put it on, verify your fingerprint, then tap again.',
    );
  }
  return undefined;
}
