import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import { NestPinoLogger } from '@tapgate/telemetry';
import { PresenceModule, type PresenceModuleOptions } from './presence.module';
import {
  checkPresenceSettings,
  DEFAULT_PRESENCE_SETTINGS,
  type PresenceSettings,
} from './presence/presence-settings';

export interface PresenceAppOptions extends Omit<PresenceModuleOptions, 'settings'> {
  http: { host: string; port: number };
  settings?: Partial<PresenceSettings>;
}

/** Builds and starts the presence service (main.ts in production, in-process in the tests). */
export async function createPresenceApp(opts: PresenceAppOptions): Promise<INestApplication> {
  const settings = checkPresenceSettings({ ...DEFAULT_PRESENCE_SETTINGS, ...opts.settings });
  const app = await NestFactory.create(PresenceModule.forRoot({ ...opts, settings }), {
    logger: new NestPinoLogger(),
    abortOnError: false,
  });
  await app.listen(opts.http.port, opts.http.host);
  return app;
}

export { ManualClock, systemClock, type Clock } from './presence/clock';
export {
  DEFAULT_PRESENCE_SETTINGS,
  LEVEL_AFTER_MS,
  type PresenceSettings,
} from './presence/presence-settings';
export { PresenceService } from './presence/presence.service';
