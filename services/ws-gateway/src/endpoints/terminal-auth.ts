import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { KvBuckets, TerminalRecord } from '@tapgate/contracts';
import { KvCache, type Messaging } from '@tapgate/messaging';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Connection } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';

export type EndpointAuthResult =
  { ok: true; method: 'mtls' | 'credential' | 'none' } | { ok: false; retry: boolean; message: string };

/**
 * Authenticates terminal endpoints: by a verified mTLS client certificate whose CN is the terminal id,
 * or by the per-terminal credential the administrator issued (only its SHA-256 is stored).
 */
@Injectable()
export class TerminalAuthenticator implements OnModuleInit, OnModuleDestroy {
  private readonly terminals: KvCache<TerminalRecord>;

  constructor(
    @Inject(MESSAGING) messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {
    this.terminals = new KvCache(messaging, KvBuckets.terminals, TerminalRecord);
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
    if (conn.clientCertCn !== undefined && conn.clientCertCn === terminalId) {
      return { ok: true, method: 'mtls' };
    }
    if (!this.settings.requireEndpointCredentials) return { ok: true, method: 'none' };
    if (!this.terminals.ready()) {
      return { ok: false, retry: true, message: 'terminal registry not loaded yet; retry' };
    }
    const record = this.terminals.get(terminalId);
    if (!record || !record.enabled || credential === undefined) {
      return {
        ok: false,
        retry: false,
        message: 'unknown terminal, disabled terminal or missing credential',
      };
    }
    const presented = createHash('sha256').update(credential, 'utf8').digest();
    const expected = Buffer.from(record.credentialSha256, 'hex');
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      return { ok: false, retry: false, message: 'wrong credential' };
    }
    return { ok: true, method: 'credential' };
  }
}
