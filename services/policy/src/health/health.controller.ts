import { Controller, Get, Req, Res } from '@nestjs/common';
import { Messaging } from '@tapgate/messaging';
import { metricsHandler } from '@tapgate/telemetry';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Buckets } from '../store/buckets';

/** Probes and metrics; no authentication (they reveal nothing about enrollments). */
@Controller()
export class HealthController {
  constructor(
    private readonly messaging: Messaging,
    private readonly buckets: Buckets,
  ) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** Ready only while NATS is connected and both KV buckets are open. */
  @Get('readyz')
  readyz(@Res() res: ServerResponse): void {
    const nats = this.messaging.isConnected();
    const buckets = this.buckets.ready();
    res.writeHead(nats && buckets ? 200 : 503, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ ready: nats && buckets, nats, buckets }));
  }

  @Get('metrics')
  metrics(@Req() req: IncomingMessage, @Res() res: ServerResponse): void {
    metricsHandler(req, res);
  }
}
