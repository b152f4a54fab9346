import { Inject, Injectable } from '@nestjs/common';
import { BandKeyError, exportBandPublicKeyJwk, importBandPublicKey } from '@tapgate/band';
import { EnrollmentRecord, KvBuckets, badgeBandId, type BandPublicJwk } from '@tapgate/contracts';
import { getMeter, createLogger } from '@tapgate/telemetry';
import type { Counter } from '@opentelemetry/api';
import { ApiError, notFound } from '../common/api-error';
import type { Principal } from '../auth/principal';
import { POLICY_SETTINGS, type PolicySettings } from '../policy-settings';
import { AdminAuditLog } from '../audit/admin-audit';
import { Buckets } from '../store/buckets';
import { RevisionedStore, type Versioned } from '../store/revisioned-store';
import type { EnrollRequest, EnrollUidRequest } from './enrollment.requests';
import { UserDirectory, type BindingState, type DirectoryAccount } from './user-directory';

/** Marks a DN that no directory confirmed ([policy].allow_unverified_enrollment); never looks like a real DN. */
export const UNVERIFIED_DN_PREFIX = 'unverified:';

/** Said wherever a UID badge is enrolled: the API answer, the session, the console. */
export const UID_WARNING =
  'A UID badge has no proof of possession: anyone who can read its UID can copy it. Allow UID taps only where that is acceptable.';

/** Who acts when an enrollment session enrolls a tapped band: the administrator who opened it. */
export type SessionActor = Pick<Principal, 'name' | 'via'>;

export type EnrollmentChange = 'enroll' | 'suspend' | 'reactivate' | 'rekey' | 'rebind' | 'delete';

function importKey(input: string | Record<string, unknown>): BandPublicJwk {
  try {
    return exportBandPublicKeyJwk(importBandPublicKey(input));
  } catch (e) {
    const message = e instanceof BandKeyError ? e.message : 'band public key: cannot be read';
    throw new ApiError('invalid_public_key', message, 'publicKey');
  }
}

@Injectable()
export class EnrollmentsService {
  private readonly log = createLogger('enrollments');
  private readonly store: RevisionedStore<EnrollmentRecord>;
  private readonly changes: Counter;

  constructor(
    buckets: Buckets,
    private readonly directory: UserDirectory,
    @Inject(POLICY_SETTINGS) private readonly settings: PolicySettings,
    private readonly audit: AdminAuditLog,
  ) {
    this.store = new RevisionedStore(buckets, KvBuckets.enrollments, EnrollmentRecord, 'enrollment');
    this.changes = getMeter().createCounter('tapgate.policy.enrollment.changes', {
      description: 'Enrollment changes made through the policy API, by action',
    });
  }

  async enroll(req: EnrollRequest, actor: SessionActor): Promise<Versioned<EnrollmentRecord>> {
    const publicKey = importKey(req.publicKey);
    return this.create(req.bandId, req.user.sAMAccountName, { publicKey }, actor);
  }

  /**
   * A plain NFC badge: stored as its own kind under `uid-<hex>` (the id the gateway looks a UID tap up
   * by), with no key. Anyone who can read the UID can copy it; the API answer carries that warning.
   */
  async enrollUid(req: EnrollUidRequest, actor: SessionActor): Promise<Versioned<EnrollmentRecord>> {
    const uid = req.uid.toLowerCase();
    return this.create(badgeBandId(uid), req.user.sAMAccountName, { kind: 'uid', uid }, actor);
  }

  /** True when `bandId` has an enrollment (a cheap early answer; create() is what guarantees one). */
  async exists(bandId: string): Promise<boolean> {
    return (await this.store.revisionOf(bandId)) !== undefined;
  }

  /** Resolves the user as an enrollment would, so a session is refused early for an unknown user. */
  async checkUser(sAMAccountName: string): Promise<void> {
    await this.resolveUser(sAMAccountName);
  }

  private async create(
    bandId: string,
    sAMAccountName: string,
    identity: Pick<EnrollmentRecord, 'publicKey' | 'kind' | 'uid'>,
    actor: SessionActor,
  ): Promise<Versioned<EnrollmentRecord>> {
    // Cheap early answer; the KV create below is what actually guarantees one record per band.
    if (await this.exists(bandId)) throw this.duplicate(bandId);
    const user = await this.resolveUser(sAMAccountName);
    const stamp = { by: actor.name, at: new Date().toISOString() };
    const record: EnrollmentRecord = {
      v: 1,
      bandId,
      user,
      ...identity,
      active: true,
      created: stamp,
      updated: stamp,
    };
    const revision = await this.store.create(bandId, record).catch((e: unknown) => {
      throw e instanceof ApiError && e.code === 'conflict' ? this.duplicate(bandId) : e;
    });
    await this.changed('enroll', record, actor);
    return { value: record, revision };
  }

  async list(filter: { user?: string; band?: string }): Promise<Array<Versioned<EnrollmentRecord>>> {
    let found: Array<Versioned<EnrollmentRecord>>;
    if (filter.band !== undefined) {
      const one = await this.store.get(filter.band);
      found = one ? [one] : [];
    } else {
      found = await this.store.list();
    }
    if (filter.user === undefined) return found;
    // sAMAccountName is case-insensitive in Active Directory.
    const user = filter.user.toLowerCase();
    return found.filter((e) => e.value.user.sAMAccountName.toLowerCase() === user);
  }

  async get(bandId: string): Promise<Versioned<EnrollmentRecord>> {
    const found = await this.store.get(bandId);
    if (!found) throw notFound('enrollment for band', bandId);
    return found;
  }

  setActive(
    bandId: string,
    active: boolean,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<EnrollmentRecord>> {
    return this.modify(bandId, ifMatch, actor, active ? 'reactivate' : 'suspend', (r) =>
      r.active === active ? undefined : { ...r, active },
    );
  }

  rekey(
    bandId: string,
    input: string | Record<string, unknown>,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<EnrollmentRecord>> {
    const publicKey = importKey(input);
    return this.modify(bandId, ifMatch, actor, 'rekey', (r) => {
      if (r.kind === 'uid') {
        throw new ApiError('conflict', `${bandId} is a UID badge: it has no key to replace`, 'publicKey');
      }
      return { ...r, publicKey };
    });
  }

  /** How the enrollment's directory object stands now (renamed, gone, name re-used...). */
  async binding(bandId: string): Promise<BindingState> {
    return this.directory.binding((await this.get(bandId)).value.user);
  }

  /**
   * The fix the console offers. With `sAMAccountName`: bind the band to the account that name is now
   * (re-enroll it, keeping the band's key). Without: follow the bound object (a renamed account gets its
   * current name and DN), or bind an enrollment made before objectGUIDs were recorded to the object its
   * name resolves to. A gone object, or a name now another object's, needs the account named explicitly.
   */
  async rebind(
    bandId: string,
    sAMAccountName: string | undefined,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<EnrollmentRecord>> {
    const current = await this.get(bandId);
    let user: EnrollmentRecord['user'];
    if (sAMAccountName !== undefined) {
      user = await this.resolveUser(sAMAccountName, false);
    } else {
      const state = await this.directory.binding(current.value.user);
      switch (state.state) {
        case 'bound':
          return current;
        case 'renamed':
          user = this.userFrom(state.current);
          break;
        case 'unbound':
          user = await this.resolveUser(current.value.user.sAMAccountName, false);
          break;
        case 'gone':
        case 'identity_changed':
          throw new ApiError(
            'conflict',
            state.state === 'gone'
              ? `the account band ${bandId} was enrolled to no longer exists; name the account to re-enroll it to`
              : `the name ${current.value.user.sAMAccountName} now belongs to another directory object; name the account to re-enroll the band to`,
            'user.sAMAccountName',
          );
        case 'unknown':
          throw new ApiError(
            'user_status_unavailable',
            `user-status unavailable (${state.why}), cannot verify user`,
          );
      }
    }
    return this.modify(bandId, ifMatch ?? current.revision, actor, 'rebind', (r) => ({ ...r, user }));
  }

  async remove(bandId: string, ifMatch: number | undefined, actor: Principal): Promise<void> {
    const revision = await this.store.revisionOf(bandId);
    if (revision === undefined) throw notFound('enrollment for band', bandId);
    await this.store.delete(bandId, ifMatch ?? revision);
    this.changes.add(1, { action: 'delete' });
    this.log.info({ bandId, action: 'delete', by: actor.name }, 'enrollment changed');
    await this.audit.record(actor, 'enrollment.delete', { target: { type: 'enrollment', id: bandId } });
  }

  /**
   * Read, change, write back at the revision read (or the client's If-Match), so a concurrent change in
   * between becomes a 409 instead of being overwritten. `change` returns undefined for "nothing to do".
   */
  private async modify(
    bandId: string,
    ifMatch: number | undefined,
    actor: Principal,
    action: EnrollmentChange,
    change: (r: EnrollmentRecord) => EnrollmentRecord | undefined,
  ): Promise<Versioned<EnrollmentRecord>> {
    const current = await this.get(bandId);
    if (ifMatch !== undefined && ifMatch !== current.revision) {
      throw new ApiError(
        'conflict',
        `enrollment for band ${bandId} changed since revision ${ifMatch}; reload and retry`,
      );
    }
    const next = change(current.value);
    if (!next) return current;
    const record = { ...next, updated: { by: actor.name, at: new Date().toISOString() } };
    const revision = await this.store.update(bandId, record, ifMatch ?? current.revision);
    await this.changed(action, record, actor, current.value);
    return { value: record, revision };
  }

  /** What an enrollment records of a directory account: names for people, objectGUID/SID for taps. */
  private userFrom(a: DirectoryAccount): EnrollmentRecord['user'] {
    // A band is bound to the directory object; an answer without one cannot vouch for the binding.
    if (!a.objectGUID) {
      throw new ApiError(
        'user_status_unavailable',
        'user-status answered without the objectGUID; cannot bind user',
      );
    }
    return {
      sAMAccountName: a.sAMAccountName,
      dn: a.dn,
      ...(a.displayName !== undefined ? { displayName: a.displayName } : {}),
      objectGUID: a.objectGUID,
      ...(a.objectSid !== undefined ? { objectSid: a.objectSid } : {}),
    };
  }

  private async resolveUser(
    sAMAccountName: string,
    allowUnverified = this.settings.allowUnverifiedEnrollment,
  ): Promise<EnrollmentRecord['user']> {
    const found = await this.directory.lookup(sAMAccountName);
    if (found.found) return this.userFrom(found);
    if (found.reason === 'not_found') {
      throw new ApiError('unknown_user', `no Active Directory user ${sAMAccountName}`, 'user.sAMAccountName');
    }
    if (allowUnverified) {
      this.log.warn(
        { sAMAccountName, why: found.why },
        'enrolling an unverified user (allow_unverified_enrollment)',
      );
      return { sAMAccountName, dn: `${UNVERIFIED_DN_PREFIX}${sAMAccountName}` };
    }
    throw new ApiError(
      'user_status_unavailable',
      `user-status unavailable (${found.why}), cannot verify user`,
    );
  }

  private duplicate(bandId: string): ApiError {
    return bandId.startsWith('uid-')
      ? new ApiError('conflict', `badge UID ${bandId.slice(4)} is already enrolled`, 'uid')
      : new ApiError('conflict', `band ${bandId} is already enrolled`, 'bandId');
  }

  private async changed(
    action: EnrollmentChange,
    r: EnrollmentRecord,
    actor: SessionActor,
    before?: EnrollmentRecord,
  ): Promise<void> {
    await this.audit.record(actor, `enrollment.${action}`, {
      target: { type: 'enrollment', id: r.bandId },
      before,
      after: r,
    });
    this.changes.add(1, { action });
    this.log.info(
      { bandId: r.bandId, sAMAccountName: r.user.sAMAccountName, active: r.active, action, by: actor.name },
      'enrollment changed',
    );
  }
}
