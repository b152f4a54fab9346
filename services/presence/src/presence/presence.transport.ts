import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { PresenceAdverts, PresenceGet } from '@tapgate/contracts';
import { Messaging, type Unsubscribe } from '@tapgate/messaging';
import { PresenceService } from './presence.service';

/** NATS side: the advert queue and the PresenceGet responder, both in queue group "presence". */
@Injectable()
export class PresenceTransport implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly subscriptions: Unsubscribe[] = [];

  constructor(
    private readonly messaging: Messaging,
    private readonly presence: PresenceService,
  ) {}

  onApplicationBootstrap(): void {
    this.subscriptions.push(
      this.messaging.subscribe(PresenceAdverts, (batch) => this.presence.applyAdverts(batch)),
      this.messaging.respond(PresenceGet, (query) => this.presence.get(query.bandId)),
    );
  }

  onApplicationShutdown(): void {
    for (const unsubscribe of this.subscriptions.splice(0)) unsubscribe();
  }
}
