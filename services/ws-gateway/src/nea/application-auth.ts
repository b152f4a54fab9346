import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  APPLICATION_CERT_CN_PREFIX,
  ApplicationRecord,
  CloseCode,
  ErrorCode,
  KvBuckets,
  terminalInScope,
} from '@tapgate/contracts';
import { KvCache, type Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { createHash } from 'node:crypto';
import type { ApplicationPrincipal, Connection } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';

const log = createLogger('applications');

export type NeaAuthResult =
  { ok: true; principal: ApplicationPrincipal | undefined } | { ok: false; retry: boolean; message: string };

/** What an NEA's hello asks for: a terminal (explicit binding) and the credential it proves itself with. */
export interface NeaBindRequest {
  terminalId?: string;
  credential?: string;
}

interface CredentialRef {
  applicationId: string;
  credentialId: string;
}

const refused = (message: string, retry = false): NeaAuthResult => ({ ok: false, retry, message });

/**
 * Decides whether an NEA socket may bind, and keeps deciding while it stays open.
 *
 * Implicit binding (no terminalId) follows the socket's own source address, as the endpoint's does, and
 * needs nothing more. Explicit binding needs an application (tapgate_applications, written by the policy
 * service) that is enabled and whose scope covers the terminal, proven by one of its credentials or by a
 * verified client certificate with CN `app:<id>`. Every socket bound that way is remembered by
 * application, so disabling, deleting, narrowing or revoking the credential it used closes it on every
 * replica: each replica watches the bucket.
 */
@Injectable()
export class ApplicationAuthorizer implements OnModuleInit, OnModuleDestroy {
  private readonly apps: KvCache<ApplicationRecord>;
  /**
   * SHA-256 (hex) of every live credential -> its application. The lookup is by the hash of a 256-bit
   * random secret, so timing differences in the Map lookup reveal nothing usable about any credential.
   */
  private readonly byHash = new Map<string, CredentialRef>();
  private readonly hashesOf = new Map<string, string[]>();
  private readonly sockets = new Map<string, Set<Connection>>();

  constructor(
    @Inject(MESSAGING) messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {
    this.apps = new KvCache(messaging, KvBuckets.applications, ApplicationRecord);
    this.apps.onChange((id, record) => this.changed(id, record));
  }

  onModuleInit(): void {
    if (this.settings.allowUnauthenticatedExplicitBinding) {
      log.warn(
        '[gateway] allow_unauthenticated_explicit_binding is ON: any client that reaches the socket ports can watch any terminal. Development only.',
      );
    }
    this.apps.start();
  }

  onModuleDestroy(): void {
    this.apps.stop();
  }

  ready(): boolean {
    return this.apps.ready();
  }

  /**
   * Authorizes an NEA hello and, when granted to an application, records the socket under it in the
   * same synchronous step, so a change that arrives while the socket is still being bound closes it.
   */
  authorize(conn: Connection, req: NeaBindRequest): NeaAuthResult {
    if (this.settings.allowedOrigins.length > 0 && conn.origin === undefined) {
      return refused('an Origin header is required: [gateway] allowed_origins is set');
    }
    const cn = conn.clientCertCn;
    const certApp = cn?.startsWith(APPLICATION_CERT_CN_PREFIX)
      ? cn.slice(APPLICATION_CERT_CN_PREFIX.length)
      : undefined;
    if (req.credential === undefined && certApp === undefined) {
      if (req.terminalId === undefined) return { ok: true, principal: undefined };
      if (this.settings.allowUnauthenticatedExplicitBinding) return { ok: true, principal: undefined };
      return refused('explicit binding needs an application credential or certificate');
    }
    if (!this.apps.ready()) return refused('application registry not loaded yet; retry', true);
    let principal: ApplicationPrincipal;
    if (req.credential !== undefined) {
      // A presented credential must be valid even where a certificate would do: never silently ignored.
      const ref = this.byHash.get(sha256Hex(req.credential));
      if (!ref) return refused('unknown or revoked application credential');
      if (certApp !== undefined && certApp !== ref.applicationId) {
        return refused('the credential and the client certificate name different applications');
      }
      principal = { ...ref, via: 'credential' };
    } else {
      principal = { applicationId: certApp!, via: 'mtls' };
    }
    const why = this.denial(principal, req.terminalId);
    if (why) return refused(why);
    conn.application = principal;
    let set = this.sockets.get(principal.applicationId);
    if (!set) this.sockets.set(principal.applicationId, (set = new Set()));
    set.add(conn);
    return { ok: true, principal };
  }

  /** Forgets a closed socket. */
  release(conn: Connection): void {
    const app = conn.application;
    if (!app) return;
    const set = this.sockets.get(app.applicationId);
    set?.delete(conn);
    if (set?.size === 0) this.sockets.delete(app.applicationId);
  }

  /** Why this principal may not (or may no longer) bind to the terminal; undefined = allowed. */
  private denial(p: ApplicationPrincipal, terminalId: string | undefined): string | undefined {
    const record = this.apps.get(p.applicationId);
    if (!record) return `unknown application ${p.applicationId}`;
    if (!record.enabled) return `application ${p.applicationId} is disabled`;
    if (p.via === 'credential' && !record.credentials.some((c) => c.credentialId === p.credentialId)) {
      return `credential ${p.credentialId} of application ${p.applicationId} was revoked`;
    }
    if (terminalId !== undefined && !terminalInScope(record.terminals, terminalId)) {
      return `application ${p.applicationId} is not authorized for terminal ${terminalId}`;
    }
    return undefined;
  }

  private changed(applicationId: string, record: ApplicationRecord | undefined): void {
    for (const h of this.hashesOf.get(applicationId) ?? []) this.byHash.delete(h);
    const hashes = record?.credentials.map((c) => c.credentialSha256) ?? [];
    record?.credentials.forEach((c) =>
      this.byHash.set(c.credentialSha256, { applicationId, credentialId: c.credentialId }),
    );
    if (hashes.length > 0) this.hashesOf.set(applicationId, hashes);
    else this.hashesOf.delete(applicationId);

    for (const conn of [...(this.sockets.get(applicationId) ?? [])]) {
      // Scope covers explicit bindings only: a remote-session mapping is the administrator's own choice.
      const explicit = conn.binding?.mode === 'explicit' ? conn.binding.terminalId : undefined;
      const why = this.denial(conn.application!, explicit);
      if (!why) continue;
      log.info({ application: applicationId, terminal: conn.binding?.terminalId, why }, 'NEA access revoked');
      conn.sendError({ code: ErrorCode.Unauthorized, message: why });
      conn.close(CloseCode.Unauthorized, 'unauthorized');
      this.release(conn);
    }
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
