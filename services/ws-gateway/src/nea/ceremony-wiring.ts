import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { AssertionSigner } from '@tapgate/assertions';
import { AuditTrail } from '@tapgate/audit';
import type { Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';
import { TAP_POLICY_SOURCE, type TapPolicySource } from '../tap/tap-policy-source';
import { Ceremonies, type AuditEntry } from './ceremonies';

const log = createLogger('ceremony-wiring');

/**
 * Builds the login and e-signature machinery from config: the assertion signer ([assertions]) and the
 * audit trail ([audit], a JetStream stream). Without signing keys, login and e-signature requests are
 * refused with "unavailable" (and /readyz says so); taps are still delivered.
 */
@Injectable()
export class CeremonyProvider implements OnModuleInit {
  readonly signer: AssertionSigner | undefined;
  readonly trail: AuditTrail;
  readonly ceremonies: Ceremonies;
  private streamReady = false;

  constructor(
    @Inject(MESSAGING) messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    @Inject(TAP_POLICY_SOURCE) policies: TapPolicySource,
  ) {
    const a = settings.assertions;
    this.signer =
      a.signingKeys.length > 0
        ? new AssertionSigner({ signingKeys: a.signingKeys, issuer: a.issuer, ttlSeconds: a.ttlSeconds })
        : undefined;
    this.trail = new AuditTrail(messaging, settings.audit);
    const signer = this.signer;
    this.ceremonies = new Ceremonies(
      {
        issue: async (claims) => {
          if (!signer) throw new Error('assertion signing is not configured');
          const signed = await signer.sign(claims);
          return { jws: signed.jws, jti: signed.jti };
        },
      },
      {
        append: async (entry: AuditEntry) => {
          await this.trail.append({ v: 1, gateway: this.settings.gatewayId, ...entry });
        },
      },
      () => policies.esignTimeoutMs(),
      () => policies.secondSignerMustDiffer(),
    );
  }

  onModuleInit(): void {
    // The stream is created in the background: NATS may not be reachable yet.
    const ensure = async (): Promise<void> => {
      for (;;) {
        try {
          await this.trail.ensureStream();
          this.streamReady = true;
          return;
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'audit stream not ready; retrying');
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    };
    void ensure();
  }

  /** Login and e-signature can be offered: keys configured and the audit stream exists. */
  available(): boolean {
    return this.signer !== undefined && this.streamReady;
  }

  jwks(): { keys: unknown[] } {
    return this.signer ? this.signer.jwks() : { keys: [] };
  }
}
