import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, PresenceAdverts, type Advert } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { frame, type Connection, type ServerFrame } from '../socket/connection';
import { EnrollmentDirectory } from '../tap/enrollments';
import { MESSAGING } from '../tokens';

/** Adverts of bands this replica does not know as enrolled that one terminal may relay per window. */
export const UNKNOWN_ADVERTS_PER_WINDOW = 60;
export const UNKNOWN_ADVERTS_WINDOW_MS = 60_000;

/**
 * Relays an endpoint's BLE advertisements to the presence service (one replica of its queue group).
 * Presence keeps Redis state per band id, so band ids are attacker input: adverts of enrolled bands always
 * go on; adverts of other bands (a neighbour's band, one enrolled moments ago that this replica's cache
 * has not seen yet, or made-up ids) only within a small budget per terminal, so one endpoint (256 ids a
 * frame) cannot fill Redis. The budget map is keyed by authenticated terminal ids, which only an
 * administrator can create.
 */
@Injectable()
export class PresenceRelay {
  private readonly unknownBudget = new Map<string, { windowStart: number; used: number }>();

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    private readonly enrollments: EnrollmentDirectory,
  ) {}

  relay(conn: Connection, adverts: Advert[], ref: string | undefined): ServerFrame<'error'> | undefined {
    const terminalId = conn.terminalId!;
    const relayed = adverts.filter(
      (a) => this.enrollments.get(a.bandId) !== undefined || this.spendUnknown(terminalId, Date.now()),
    );
    if (relayed.length === 0) return undefined;
    try {
      this.messaging.publish(PresenceAdverts, {
        v: 1,
        terminalId,
        adverts: relayed,
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

  private spendUnknown(terminalId: string, now: number): boolean {
    let b = this.unknownBudget.get(terminalId);
    if (!b || now - b.windowStart >= UNKNOWN_ADVERTS_WINDOW_MS) {
      if (this.unknownBudget.size > 10_000) this.unknownBudget.clear();
      b = { windowStart: now, used: 0 };
      this.unknownBudget.set(terminalId, b);
    }
    if (b.used >= UNKNOWN_ADVERTS_PER_WINDOW) return false;
    b.used++;
    return true;
  }
}
