import { Injectable } from '@nestjs/common';
import type { Counter } from '@opentelemetry/api';
import {
  ApplicationRecord,
  KvBuckets,
  MAX_APPLICATION_CREDENTIALS,
  type ApplicationCredential,
} from '@tapgate/contracts';
import { createLogger, getMeter } from '@tapgate/telemetry';
import { randomBytes } from 'node:crypto';
import type { Principal } from '../auth/principal';
import { AdminAuditLog } from '../audit/admin-audit';
import { ApiError, notFound } from '../common/api-error';
import { Buckets } from '../store/buckets';
import { RevisionedStore, type Versioned } from '../store/revisioned-store';
import { issueCredential } from '../terminals/credential';
import type { CreateApplicationRequest, UpdateApplicationRequest } from './application.requests';

/** An application as the API shows it: its credentials by id and date, never their hashes. */
export type ApplicationView = Omit<ApplicationRecord, 'credentials'> & {
  credentials: Array<Omit<ApplicationCredential, 'credentialSha256'>>;
};

export function applicationView(v: Versioned<ApplicationRecord>): Versioned<ApplicationView> {
  const credentials = v.value.credentials.map(({ credentialSha256: _hash, ...rest }) => rest);
  return { value: { ...v.value, credentials }, revision: v.revision };
}

/** The one response that carries an application credential; it is stored only as SHA-256. */
export interface IssuedApplicationCredential {
  application: Versioned<ApplicationView>;
  credentialId: string;
  credential: string;
}

/**
 * NEA applications (tapgate_applications): who may bind explicitly to which terminals. Gateways watch the
 * bucket, so every change here (disable, revoke, narrow, delete) closes the affected sockets within a second.
 */
@Injectable()
export class ApplicationsService {
  private readonly log = createLogger('applications');
  private readonly store: RevisionedStore<ApplicationRecord>;
  private readonly changes: Counter;

  constructor(
    buckets: Buckets,
    private readonly audit: AdminAuditLog,
  ) {
    this.store = new RevisionedStore(buckets, KvBuckets.applications, ApplicationRecord, 'application');
    this.changes = getMeter().createCounter('tapgate.policy.application.changes', {
      description: 'Application changes made through the policy API, by action',
    });
  }

  async create(req: CreateApplicationRequest, actor: Principal): Promise<IssuedApplicationCredential> {
    const stamp = { by: actor.name, at: new Date().toISOString() };
    const { entry, credential } = newCredential(stamp);
    const record: ApplicationRecord = {
      v: 1,
      applicationId: req.applicationId,
      displayName: req.displayName,
      enabled: true,
      terminals: req.terminals,
      credentials: [entry],
      created: stamp,
      updated: stamp,
    };
    const revision = await this.store.create(req.applicationId, record).catch((e: unknown) => {
      throw e instanceof ApiError && e.code === 'conflict'
        ? new ApiError('conflict', `application ${req.applicationId} already exists`, 'applicationId')
        : e;
    });
    await this.changed('create', req.applicationId, actor, undefined, record);
    return {
      application: applicationView({ value: record, revision }),
      credentialId: entry.credentialId,
      credential,
    };
  }

  async list(): Promise<Array<Versioned<ApplicationView>>> {
    return (await this.store.list()).map(applicationView);
  }

  async get(applicationId: string): Promise<Versioned<ApplicationView>> {
    const found = await this.store.get(applicationId);
    if (!found) throw notFound('application', applicationId);
    return applicationView(found);
  }

  async update(
    applicationId: string,
    req: UpdateApplicationRequest,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<ApplicationView>> {
    return applicationView(
      await this.modify(applicationId, ifMatch, actor, 'update', (r) => ({
        ...r,
        displayName: req.displayName,
        terminals: req.terminals,
      })),
    );
  }

  async setEnabled(
    applicationId: string,
    enabled: boolean,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<ApplicationView>> {
    return applicationView(
      await this.modify(applicationId, ifMatch, actor, enabled ? 'enable' : 'disable', (r) =>
        r.enabled === enabled ? undefined : { ...r, enabled },
      ),
    );
  }

  /** Rotation, step 1: a further credential; the old ones stay valid until revoked. */
  async addCredential(
    applicationId: string,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<IssuedApplicationCredential> {
    const { entry, credential } = newCredential({ by: actor.name, at: new Date().toISOString() });
    const updated = await this.modify(applicationId, ifMatch, actor, 'credential.add', (r) => {
      if (r.credentials.length >= MAX_APPLICATION_CREDENTIALS) {
        throw new ApiError(
          'conflict',
          `application ${applicationId} has ${MAX_APPLICATION_CREDENTIALS} credentials; revoke one first`,
        );
      }
      return { ...r, credentials: [...r.credentials, entry] };
    });
    return { application: applicationView(updated), credentialId: entry.credentialId, credential };
  }

  /** Rotation, step 2: the gateways close the sockets that used this credential. */
  async revokeCredential(
    applicationId: string,
    credentialId: string,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<ApplicationView>> {
    return applicationView(
      await this.modify(applicationId, ifMatch, actor, 'credential.revoke', (r) => {
        if (!r.credentials.some((c) => c.credentialId === credentialId)) {
          throw notFound(`credential of application ${applicationId}`, credentialId);
        }
        return { ...r, credentials: r.credentials.filter((c) => c.credentialId !== credentialId) };
      }),
    );
  }

  async remove(applicationId: string, ifMatch: number | undefined, actor: Principal): Promise<void> {
    const revision = await this.store.revisionOf(applicationId);
    if (revision === undefined) throw notFound('application', applicationId);
    await this.store.delete(applicationId, ifMatch ?? revision);
    await this.changed('delete', applicationId, actor);
  }

  private async modify(
    applicationId: string,
    ifMatch: number | undefined,
    actor: Principal,
    action: string,
    change: (r: ApplicationRecord) => ApplicationRecord | undefined,
  ): Promise<Versioned<ApplicationRecord>> {
    const { before, after } = await this.store.modify(applicationId, ifMatch, (r) => {
      const next = change(r);
      return next && { ...next, updated: { by: actor.name, at: new Date().toISOString() } };
    });
    if (!after) return before;
    await this.changed(action, applicationId, actor, before.value, after.value);
    return after;
  }

  private async changed(
    action: string,
    applicationId: string,
    actor: Principal,
    before?: ApplicationRecord,
    after?: ApplicationRecord,
  ): Promise<void> {
    this.changes.add(1, { action });
    this.log.info({ applicationId, action, by: actor.name }, 'application changed');
    // The audit log scrubs credentialSha256, so records show credential ids and dates only.
    await this.audit.record(actor, `application.${action}`, {
      target: { type: 'application', id: applicationId },
      before,
      after,
    });
  }
}

function newCredential(created: { by: string; at: string }): {
  entry: ApplicationCredential;
  credential: string;
} {
  const { credential, sha256 } = issueCredential();
  return {
    entry: { credentialId: randomBytes(6).toString('base64url'), credentialSha256: sha256, created },
    credential,
  };
}
