import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { metricsHandler } from '@tapgate/telemetry';
import type { Request, Response } from 'express';
import { APP_DEPS, type AppDeps } from '../app.tokens';

export interface Readiness {
  ready: boolean;
  nats: { state: 'connected' | 'disconnected' };
  redis: { state: 'up' | 'down' | 'bypassed'; detail?: string };
  ldap: { directory: 'ldap' | 'file'; state: 'up' | 'down' | 'unknown'; since: string; detail?: string };
  policy: { checkUserStatus: boolean; cacheUserStatus: boolean; cacheExpirySeconds: number };
}

/**
 * Liveness, readiness and metrics. Ready means "can take requests": NATS connected. A Redis outage is
 * degraded, not unready (answers come straight from the directory); an LDAP outage is not unready
 * either (cached entries are still served and everything else is answered `unavailable`), but both
 * are stated in the detail for dashboards and alerts.
 */
@Controller()
export class HealthController {
  constructor(@Inject(APP_DEPS) private readonly deps: AppDeps) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  readiness(): Readiness {
    const { messaging, redis, directory, policy } = this.deps;
    const p = policy.current();
    const redisUp = redis.status === 'ready';
    let redisState: Readiness['redis'];
    if (!p.cacheUserStatus || !p.checkUserStatus) {
      redisState = { state: 'bypassed', detail: 'caching off by policy' };
    } else if (redisUp) redisState = { state: 'up' };
    else {
      redisState = {
        state: 'down',
        detail: `degraded: Redis ${redis.status}; answers come straight from the directory`,
      };
    }
    return {
      ready: messaging.isConnected(),
      nats: { state: messaging.isConnected() ? 'connected' : 'disconnected' },
      redis: redisState,
      ldap: { directory: directory.kind, ...directory.health() },
      policy: { ...p },
    };
  }

  @Get('readyz')
  readyz(@Res() res: Response): void {
    const r = this.readiness();
    res.status(r.ready ? 200 : 503).json(r);
  }

  @Get('metrics')
  metrics(@Req() req: Request, @Res() res: Response): void {
    metricsHandler(req, res);
  }
}
