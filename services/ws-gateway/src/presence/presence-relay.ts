import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, PresenceAdverts, type Advert } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { frame, type Connection, type ServerFrame } from '../socket/connection';
import { MESSAGING } from '../tokens';

/** Relays an endpoint's BLE advertisements to the presence service (one replica of its queue group). */
@Injectable()
export class PresenceRelay {
  constructor(@Inject(MESSAGING) private readonly messaging: Messaging) {}

  relay(conn: Connection, adverts: Advert[], ref: string | undefined): ServerFrame<'error'> | undefined {
    try {
      this.messaging.publish(PresenceAdverts, {
        v: 1,
        terminalId: conn.terminalId!,
        adverts,
        receivedAt: new Date().toISOString(),
      });
      return undefined;
    } catch {
      return frame(
        'error',
        { code: ErrorCode.Unavailable, message: 'presence relay unavailable; adverts dropped' },
        ref,
      );
    }
  }
}
