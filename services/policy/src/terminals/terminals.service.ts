import { Injectable } from '@nestjs/common';
import type { Counter } from '@opentelemetry/api';
import { KvBuckets, TerminalRecord, type RemoteClients } from '@tapgate/contracts';
import { createLogger, getMeter } from '@tapgate/telemetry';
import type { Principal } from '../auth/principal';
import { ApiError, notFound } from '../common/api-error';
import { AdminAuditLog } from '../audit/admin-audit';
import { Buckets } from '../store/buckets';
import { RevisionedStore, type Versioned } from '../store/revisioned-store';
import { issueCredential } from './credential';
import type { CertificatePinsRequest, CreateTerminalRequest } from './terminal.requests';

/** A terminal as the API shows it: everything but the credential hash, which has no use outside the gateway. */
export type TerminalView = Omit<TerminalRecord, 'credentialSha256'>;

export function terminalView(v: Versioned<TerminalRecord>): Versioned<TerminalView> {
  const { credentialSha256: _hash, ...rest } = v.value;
  return { value: rest, revision: v.revision };
}

/** The one response that carries a credential; it is not stored anywhere and cannot be shown again. */
export interface IssuedCredential {
  terminal: Versioned<TerminalView>;
  credential: string;
}

@Injectable()
export class TerminalsService {
  private readonly log = createLogger('terminals');
  private readonly store: RevisionedStore<TerminalRecord>;
  private readonly changes: Counter;

  constructor(
    buckets: Buckets,
    private readonly audit: AdminAuditLog,
  ) {
    this.store = new RevisionedStore(buckets, KvBuckets.terminals, TerminalRecord, 'terminal');
    this.changes = getMeter().createCounter('tapgate.policy.terminal.changes', {
      description: 'Terminal changes made through the policy API, by action',
    });
  }

  async create(req: CreateTerminalRequest, actor: Principal): Promise<IssuedCredential> {
    const { credential, sha256 } = issueCredential();
    const stamp = { by: actor.name, at: new Date().toISOString() };
    const record: TerminalRecord = {
      v: 1,
      terminalId: req.terminalId,
      ...(req.description !== undefined ? { description: req.description } : {}),
      credentialSha256: sha256,
      enabled: true,
      created: stamp,
      updated: stamp,
    };
    const revision = await this.store.create(req.terminalId, record).catch((e: unknown) => {
      throw e instanceof ApiError && e.code === 'conflict'
        ? new ApiError('conflict', `terminal ${req.terminalId} already exists`, 'terminalId')
        : e;
    });
    await this.changed('create', req.terminalId, actor, undefined, record);
    return { terminal: terminalView({ value: record, revision }), credential };
  }

  async rotate(terminalId: string, ifMatch: number | undefined, actor: Principal): Promise<IssuedCredential> {
    const { credential, sha256 } = issueCredential();
    const updated = await this.modify(terminalId, ifMatch, actor, 'rotate', (r) => ({
      ...r,
      credentialSha256: sha256,
    }));
    return { terminal: terminalView(updated), credential };
  }

  async setEnabled(
    terminalId: string,
    enabled: boolean,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<TerminalView>> {
    const updated = await this.modify(terminalId, ifMatch, actor, enabled ? 'enable' : 'disable', (r) =>
      r.enabled === enabled ? undefined : { ...r, enabled },
    );
    return terminalView(updated);
  }

  /**
   * Replaces the terminal's pinned client certificates. An empty list removes pinning (any certificate
   * of the CA with CN = terminal id is accepted again). Gateways close a live socket whose certificate
   * is no longer pinned.
   */
  async setCertificatePins(
    terminalId: string,
    req: CertificatePinsRequest,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<TerminalView>> {
    const pins = req.certificateSha256;
    const updated = await this.modify(terminalId, ifMatch, actor, 'pins', (r) => {
      const { certificateSha256: current = [], ...rest } = r;
      if (current.length === pins.length && current.every((p, i) => p === pins[i])) return undefined;
      return pins.length > 0 ? { ...rest, certificateSha256: pins } : rest;
    });
    return terminalView(updated);
  }

  /**
   * Replaces the RDP/Citrix clients this terminal serves (addresses and client names; both empty removes
   * the mapping). Gateways apply it to the next implicit binding through a trusted proxy; a client that
   * two terminals list is refused there, not bound to either (docs/protocol.md §4).
   */
  async setRemoteClients(
    terminalId: string,
    req: RemoteClients,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<TerminalView>> {
    const updated = await this.modify(terminalId, ifMatch, actor, 'remote-clients', (r) => {
      const { remoteClients: current, ...rest } = r;
      if (JSON.stringify(current ?? { addresses: [], names: [] }) === JSON.stringify(req)) return undefined;
      return req.addresses.length + req.names.length > 0 ? { ...rest, remoteClients: req } : rest;
    });
    return terminalView(updated);
  }

  async list(): Promise<Array<Versioned<TerminalView>>> {
    return (await this.store.list()).map(terminalView);
  }

  async get(terminalId: string): Promise<Versioned<TerminalView>> {
    return terminalView(await this.getRecord(terminalId));
  }

  async remove(terminalId: string, ifMatch: number | undefined, actor: Principal): Promise<void> {
    const revision = await this.store.revisionOf(terminalId);
    if (revision === undefined) throw notFound('terminal', terminalId);
    await this.store.delete(terminalId, ifMatch ?? revision);
    await this.changed('delete', terminalId, actor);
  }

  private async getRecord(terminalId: string): Promise<Versioned<TerminalRecord>> {
    const found = await this.store.get(terminalId);
    if (!found) throw notFound('terminal', terminalId);
    return found;
  }

  /** Read-change-write at the revision read (or If-Match); a concurrent change in between is a 409. */
  private async modify(
    terminalId: string,
    ifMatch: number | undefined,
    actor: Principal,
    action: string,
    change: (r: TerminalRecord) => TerminalRecord | undefined,
  ): Promise<Versioned<TerminalRecord>> {
    const current = await this.getRecord(terminalId);
    if (ifMatch !== undefined && ifMatch !== current.revision) {
      throw new ApiError(
        'conflict',
        `terminal ${terminalId} changed since revision ${ifMatch}; reload and retry`,
      );
    }
    const next = change(current.value);
    if (!next) return current;
    const record = { ...next, updated: { by: actor.name, at: new Date().toISOString() } };
    const revision = await this.store.update(terminalId, record, ifMatch ?? current.revision);
    await this.changed(action, terminalId, actor, current.value, record);
    return { value: record, revision };
  }

  private async changed(
    action: string,
    terminalId: string,
    actor: Principal,
    before?: TerminalRecord,
    after?: TerminalRecord,
  ): Promise<void> {
    this.changes.add(1, { action });
    this.log.info({ terminalId, action, by: actor.name }, 'terminal changed');
    // The audit log never holds the credential's hash (scrubbed there too).
    await this.audit.record(actor, `terminal.${action}`, {
      target: { type: 'terminal', id: terminalId },
      before,
      after,
    });
  }
}
