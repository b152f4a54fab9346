import { Inject, Injectable } from '@nestjs/common';
import {
  PresenceGet,
  RefusalReason,
  UserStatusGet,
  type StatusAnswer,
  type Tap,
  type TapDecision,
  type PresenceAnswer,
} from '@tapgate/contracts';
import { verifyProof } from '@tapgate/band';
import type { Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import type { Connection } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';
import { EnrollmentDirectory, type Enrollment } from './enrollments';
import { TAP_POLICY_SOURCE, type TapPolicySource } from './tap-policy-source';

const log = createLogger('tap-decider');

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
  ) {}

  async decide(conn: Connection, tap: Tap, now: number): Promise<TapDecision> {
    if (tap.kind === 'ble' && !this.policies.anyAllows('allowBleTaps')) {
      return refuse(RefusalReason.BleNotAllowed, 'BLE taps are not allowed by policy');
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
        ? this.messaging.request(PresenceGet, { v: 1, bandId: enrollment.record.bandId }, { timeoutMs })
        : Promise.resolve(undefined),
      this.messaging.request(
        UserStatusGet,
        // Bound enrollments are checked against their directory object, not just the name.
        {
          v: 1,
          user: { sAMAccountName: user.sAMAccountName },
          objectGUID: enrollment.record.user.objectGUID,
        },
        { timeoutMs },
      ),
    ]);
    const base = { identifiedBy, user };
    const groups = status.status === 'fulfilled' ? status.value.groups : undefined;
    const policy = this.policies.forUser(user.sAMAccountName, groups);
    if (tap.kind === 'ble' && !policy.allowBleTaps) {
      return { ...refuse(RefusalReason.BleNotAllowed, 'BLE taps are not allowed by policy'), ...base };
    }
    if (identifiedBy === 'uid' && !policy.allowUidTaps) {
      return {
        ...refuse(RefusalReason.UidNotAllowed, 'plain NFC UID taps are not allowed by policy'),
        ...base,
      };
    }
    if (policy.requirePresence) {
      const refusal = presenceRefusal(presence);
      if (refusal) return { ...refusal, ...base };
    }
    if (status.status === 'rejected') {
      log.warn({ err: (status.reason as Error).message }, 'user-status did not answer');
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
      return refuse(RefusalReason.Internal, 'enrollments are not loaded yet; try again');
    }
    if (tap.proof === undefined) {
      if (tap.uid === undefined) return refuse(RefusalReason.BadSignature, 'the tap carries no proof');
      if (!this.policies.anyAllows('allowUidTaps')) {
        return refuse(RefusalReason.UidNotAllowed, 'plain NFC UID taps are not allowed by policy');
      }
      // UID badges are enrolled under the band id "uid-<hex>"; the decision says it rests on a UID.
      const enrollment = this.enrollments.get(`uid-${tap.uid.toLowerCase()}`);
      if (!enrollment) return refuse(RefusalReason.UnknownBand, 'this badge is not enrolled');
      if (!enrollment.record.active) return refuse(RefusalReason.BandSuspended, 'this badge is suspended');
      return { enrollment, identifiedBy: 'uid' };
    }
    const bandId = tap.bandId;
    const enrollment = bandId === undefined ? undefined : this.enrollments.get(bandId);
    if (bandId === undefined || !enrollment) {
      return refuse(RefusalReason.UnknownBand, 'this band is not enrolled');
    }
    if (!enrollment.record.active) return refuse(RefusalReason.BandSuspended, 'this band is suspended');
    if (tap.proof.terminalId !== conn.terminalId) {
      return refuse(RefusalReason.WrongTerminal, 'the proof was made for another terminal');
    }
    if (!verifyProof(enrollment.publicKey, bandId, tap.proof)) {
      return refuse(RefusalReason.BadSignature, 'the band signature does not verify');
    }
    switch (conn.challenges?.consume(tap.proof.challenge, now) ?? 'unknown') {
      case 'ok':
        return { enrollment, identifiedBy: 'proof' };
      case 'replayed':
        return refuse(RefusalReason.ChallengeReplayed, 'this tap was already used (replay)');
      case 'expired':
        return refuse(RefusalReason.ChallengeExpired, 'the challenge expired; tap again');
      case 'unknown':
        return refuse(RefusalReason.ChallengeUnknown, 'the challenge was not issued to this endpoint');
    }
  }
}

function presenceRefusal(result: PromiseSettledResult<PresenceAnswer | undefined>): TapDecision | undefined {
  if (result.status === 'rejected' || result.value === undefined) {
    return refuse(RefusalReason.PresenceUnknown, 'band presence is unknown; tap refused');
  }
  const answer = result.value;
  if (!answer.known || !answer.band?.authenticated) {
    return refuse(
      RefusalReason.BandNotAuthenticated,
      'the band is not authenticated; authenticate it and tap again',
    );
  }
  return undefined;
}
