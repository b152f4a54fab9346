import { Controller, Get, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Messaging } from '@tapgate/messaging';
import { metricsHandler } from '@tapgate/telemetry';
import { PresenceStore } from '../presence/presence-store';

@Controller()
export class HealthController {
  constructor(
    private readonly messaging: Messaging,
    private readonly store: PresenceStore,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Readiness: both NATS and Redis are connected. */
  @Get('readyz')
  readyz(@Res() res: ServerResponse): void {
    const checks = { nats: this.messaging.isConnected(), redis: this.store.isReady() };
    const ready = checks.nats && checks.redis;
    res.statusCode = ready ? 200 : 503;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: ready ? 'ready' : 'not_ready', checks }));
  }

  @Get('metrics')
  metrics(@Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    metricsHandler(req, res);
  }
}
