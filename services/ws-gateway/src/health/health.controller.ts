import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { Messaging } from '@tapgate/messaging';
import { metricsHandler } from '@tapgate/telemetry';
import type { Request, Response } from 'express';
import { EndpointRegistry } from '../endpoints/endpoint-registry';
import { TerminalAuthenticator } from '../endpoints/terminal-auth';
import { ApplicationAuthorizer } from '../nea/application-auth';
import { CeremonyProvider } from '../nea/ceremony-wiring';
import { NeaRegistry } from '../nea/nea-registry';
import { ConnectionRegistry } from '../socket/connection-registry';
import { EnrollmentDirectory } from '../tap/enrollments';
import { MESSAGING } from '../tokens';

/** Kubernetes probes and Prometheus metrics on the HTTP port ([http].port). */
@Controller()
export class HealthController {
  private draining = false;
  /** The endpoint and NEA listeners are bound; before that a "ready" replica would refuse connections. */
  private listening = false;

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    private readonly enrollments: EnrollmentDirectory,
    private readonly terminals: TerminalAuthenticator,
    private readonly connections: ConnectionRegistry,
    private readonly endpoints: EndpointRegistry,
    private readonly neas: NeaRegistry,
    private readonly ceremonies: CeremonyProvider,
    private readonly applications: ApplicationAuthorizer,
  ) {}

  /** Called once the socket listeners are bound (the HTTP port that serves this probe binds first). */
  markListening(): void {
    this.listening = true;
  }

  /** Liveness: the event loop answers. Never depends on NATS, or a NATS outage would restart every pod. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: false while NATS is unreachable, the registries are loading, or the replica drains. */
  @Get('readyz')
  readyz(@Res() res: Response): void {
    const detail = {
      nats: this.messaging.isConnected(),
      enrollments: this.enrollments.ready(),
      terminals: this.terminals.ready(),
      applications: this.applications.ready(),
      draining: this.draining,
      listening: this.listening,
      sockets: this.connections.size,
      endpoints: this.endpoints.size,
      nea: this.neas.counts(),
      ceremonies: this.ceremonies.available(),
      // Audit records enqueued and not yet stored (AuditTrail.enqueue); informative, not a readiness gate.
      auditWaiting: this.ceremonies.trail.waiting(),
    };
    const ready =
      detail.nats &&
      detail.enrollments &&
      detail.terminals &&
      detail.applications &&
      detail.listening &&
      !detail.draining;
    res.status(ready ? 200 : 503).json({ ready, ...detail });
  }

  /** Public keys that verify login and e-signature assertions (RFC 7517). Rotation: see docs/operations.md. */
  @Get('.well-known/jwks.json')
  jwks(@Res() res: Response): void {
    res.setHeader('cache-control', 'public, max-age=300');
    res.json(this.ceremonies.jwks());
  }

  @Get('metrics')
  metrics(@Req() req: Request, @Res() res: Response): void {
    metricsHandler(req, res);
  }

  startDraining(): void {
    this.draining = true;
  }
}
