import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import type { RedisSettings } from '@tapgate/config';
import { Messaging, connectMessaging, type MessagingOptions } from '@tapgate/messaging';
import { HealthController } from './health/health.controller';
import { systemClock, type Clock } from './presence/clock';
import { CLOCK, PRESENCE_SETTINGS } from './presence/presence.constants';
import { PresenceService } from './presence/presence.service';
import { PresenceSweeper } from './presence/presence.sweeper';
import { PresenceTransport } from './presence/presence.transport';
import { PresenceStore } from './presence/presence-store';
import type { PresenceSettings } from './presence/presence-settings';

export interface PresenceModuleOptions {
  nats: MessagingOptions;
  redis: RedisSettings;
  settings: PresenceSettings;
  clock?: Clock;
}

/** Closes the connections after every other shutdown hook has stopped using them. */
class ConnectionCloser implements OnApplicationShutdown {
  constructor(
    private readonly messaging: Messaging,
    private readonly store: PresenceStore,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.messaging.close(), this.store.close()]);
  }
}

@Module({})
export class PresenceModule {
  static forRoot(opts: PresenceModuleOptions): DynamicModule {
    return {
      module: PresenceModule,
      controllers: [HealthController],
      providers: [
        { provide: PRESENCE_SETTINGS, useValue: opts.settings },
        { provide: CLOCK, useValue: opts.clock ?? systemClock },
        { provide: Messaging, useFactory: () => connectMessaging(opts.nats) },
        {
          provide: PresenceStore,
          useFactory: () => new PresenceStore(opts.redis, opts.settings),
        },
        {
          provide: ConnectionCloser,
          useFactory: (m: Messaging, s: PresenceStore) => new ConnectionCloser(m, s),
          inject: [Messaging, PresenceStore],
        },
        PresenceService,
        PresenceTransport,
        PresenceSweeper,
      ],
    };
  }
}
