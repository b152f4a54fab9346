import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CloseCode, KvBuckets, TerminalRecord } from '@tapgate/contracts';
import { KvCache, type Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Connection, EndpointEvidence } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';
import { EndpointRegistry } from './endpoint-registry';

const log = createLogger('terminal-auth');

export type EndpointAuthMethod = 'mtls' | 'mtls+credential' | 'credential' | 'none';

export type EndpointAuthResult =
  | { ok: true; method: EndpointAuthMethod; evidence: EndpointEvidence }
  | { ok: false; retry: boolean; message: string };

/**
 * What the endpoint is told when refused. One text for every reason, so that a stranger cannot learn
 * which terminal ids exist or are disabled; the gateway's log names the exact reason.
 */
export const ENDPOINT_REFUSED_MESSAGE =
  'endpoint not authorized: unknown or disabled terminal, or wrong, missing or revoked credential or certificate';

function sameHash(presentedHex: string, expectedHex: string): boolean {
  const a = Buffer.from(presentedHex, 'hex');
  const b = Buffer.from(expectedHex, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * The endpoint authentication rules, one pure function for the hello and for every later change of
 * the terminal's record (a socket is cut off the moment it would no longer be admitted). Returns why
 * the evidence is refused, or undefined when it is admitted.
 *
 * - An unregistered terminal is refused, unless `[gateway] require_endpoint_credentials = false`, which
 *   admits unregistered terminals with no proof at all (test rigs only).
 * - A registered terminal must be enabled, whatever the evidence.
 * - A credential, when presented, must be the terminal's current one, even next to a valid certificate.
 * - A terminal with pinned certificates must present one of them; a credential alone is not enough.
 * - Otherwise a valid certificate (CN = terminal id) or the credential admits it.
 * (A presented certificate that fails TLS verification is refused before this, in `authenticate`.)
 */
export function endpointRefusal(
  record: TerminalRecord | undefined,
  evidence: EndpointEvidence,
  requireCredentials: boolean,
): string | undefined {
  if (!record) return requireCredentials ? 'unregistered terminal' : undefined;
  if (!record.enabled) return 'terminal disabled';
  if (
    evidence.credentialSha256 !== undefined &&
    !sameHash(evidence.credentialSha256, record.credentialSha256)
  ) {
    return 'wrong credential';
  }
  const pins = record.certificateSha256 ?? [];
  if (pins.length > 0) {
    if (!evidence.certificate) return 'terminal has pinned certificates; none presented';
    if (!pins.some((pin) => sameHash(evidence.certificate!.sha256, pin))) {
      return 'client certificate not pinned for this terminal (revoked or not yet pinned)';
    }
  }
  if (evidence.certificate || evidence.credentialSha256 !== undefined) return undefined;
  return requireCredentials ? 'no credential and no client certificate' : undefined;
}

function methodOf(evidence: EndpointEvidence): EndpointAuthMethod {
  if (evidence.certificate) return evidence.credentialSha256 !== undefined ? 'mtls+credential' : 'mtls';
  return evidence.credentialSha256 !== undefined ? 'credential' : 'none';
}

/**
 * Authenticates terminal endpoints against the terminals bucket (a local cache fed by a KV watch): by a
 * verified mTLS client certificate whose CN is the terminal id, by the per-terminal credential the
 * administrator issued (only its SHA-256 is stored), or both. Every change of a terminal's record is
 * checked against the endpoint connected to this replica, which is closed (4003) when no longer admitted.
 */
@Injectable()
export class TerminalAuthenticator implements OnModuleInit, OnModuleDestroy {
  private readonly terminals: KvCache<TerminalRecord>;

  constructor(
    @Inject(MESSAGING) messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly endpoints: EndpointRegistry,
  ) {
    this.terminals = new KvCache(messaging, KvBuckets.terminals, TerminalRecord);
    this.terminals.onChange((terminalId, record) => this.recheck(terminalId, record));
  }

  onModuleInit(): void {
    this.terminals.start();
  }

  onModuleDestroy(): void {
    this.terminals.stop();
  }

  ready(): boolean {
    return this.terminals.ready();
  }

  authenticate(conn: Connection, terminalId: string, credential: string | undefined): EndpointAuthResult {
    if (!this.terminals.ready()) {
      return { ok: false, retry: true, message: 'terminal registry not loaded yet; retry' };
    }
    // A certificate that fails verification (revoked, expired, another CA) is refused outright, even
    // beside a correct credential: presenting it is either a mistake or a stolen, revoked identity.
    if (conn.clientCertError !== undefined) {
      return { ok: false, retry: false, message: `client certificate rejected: ${conn.clientCertError}` };
    }
    const evidence: EndpointEvidence = {
      // A certificate naming another terminal proves nothing about this one: it is not evidence here.
      certificate: conn.clientCert?.cn === terminalId ? conn.clientCert : undefined,
      credentialSha256:
        credential === undefined ? undefined : createHash('sha256').update(credential, 'utf8').digest('hex'),
    };
    const refusal = endpointRefusal(
      this.terminals.get(terminalId),
      evidence,
      this.settings.requireEndpointCredentials,
    );
    if (refusal !== undefined) return { ok: false, retry: false, message: refusal };
    return { ok: true, method: methodOf(evidence), evidence };
  }

  /**
   * A record changed (or was deleted; an unparseable record counts as deleted): the endpoint socket for
   * that terminal on this replica, if any, is closed unless its hello evidence still passes. Every
   * replica watches the bucket, so each closes its own socket within the watch's delivery time.
   */
  private recheck(terminalId: string, record: TerminalRecord | undefined): void {
    const conn = this.endpoints.get(terminalId);
    if (!conn?.endpointEvidence) return;
    // A deleted record cuts off even where unregistered terminals are admitted: deleting is a decision.
    const refusal =
      record === undefined
        ? 'terminal deleted'
        : endpointRefusal(record, conn.endpointEvidence, this.settings.requireEndpointCredentials);
    if (refusal === undefined) return;
    log.warn(
      { terminal: terminalId, address: conn.address, why: refusal },
      'endpoint access withdrawn; closing',
    );
    conn.close(CloseCode.Revoked, 'access revoked');
  }
}
