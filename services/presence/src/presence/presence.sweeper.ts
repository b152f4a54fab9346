import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PRESENCE_SETTINGS } from './presence.constants';
import type { PresenceSettings } from './presence-settings';
import { PresenceService } from './presence.service';

/** Runs the silence sweep on every replica; the scripts make sure each transition is published once. */
@Injectable()
export class PresenceSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly presence: PresenceService,
    @Inject(PRESENCE_SETTINGS) private readonly settings: PresenceSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      // Never overlap: a slow Redis must not pile up sweeps.
      this.running ??= this.presence.sweep().finally(() => (this.running = undefined));
    }, this.settings.sweepIntervalMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
