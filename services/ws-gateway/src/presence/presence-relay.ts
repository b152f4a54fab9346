import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, PresenceAdverts, type Advert } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { frame, type Connection, type ServerFrame } from '../socket/connection';
import { EnrollmentDirectory } from '../tap/enrollments';
import { MESSAGING } from '../tokens';

/**
 * Relays an endpoint's BLE advertisements to the presence service (one replica of its queue group).
 * Only adverts of enrolled bands go on: presence keeps Redis state per band id, and ids that are not
 * enrolled could never authenticate a tap, so relaying them would let one endpoint (up to 256 ids a
 * frame) fill presence's Redis with attacker-chosen keys. Before the enrollments cache is loaded,
 * nothing is relayed (the gateway is not ready then either).
 */
@Injectable()
export class PresenceRelay {
  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    private readonly enrollments: EnrollmentDirectory,
  ) {}

  relay(conn: Connection, adverts: Advert[], ref: string | undefined): ServerFrame<'error'> | undefined {
    const known = adverts.filter((a) => this.enrollments.get(a.bandId) !== undefined);
    if (known.length === 0) return undefined;
    try {
      this.messaging.publish(PresenceAdverts, {
        v: 1,
        terminalId: conn.terminalId!,
        adverts: known,
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
