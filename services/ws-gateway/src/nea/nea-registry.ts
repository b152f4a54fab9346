import { Inject, Injectable } from '@nestjs/common';
import {
  PresenceChanged,
  TapDeliver,
  presenceChangedSubject,
  tapDeliverExplicitWildcard,
  tapDeliverImplicitWildcard,
  addressToken,
  RefusalReason,
  NeaGroupsChanged,
  type DeliveryAck,
  type NeaGroupAdded,
  type PresenceChange,
  type TapDelivery,
} from '@tapgate/contracts';
import type { Messaging, ResponderContext, Unsubscribe } from '@tapgate/messaging';
import type { Connection } from '../socket/connection';
import { MESSAGING } from '../tokens';
import { createLogger, rateLimitedLog } from '@tapgate/telemetry';
import type { TapHandled } from './ceremonies';
import { CeremonyProvider } from './ceremony-wiring';

const log = createLogger('nea-registry');
// Under overload every tap can be too old: one line per window, with the count (a line per tap adds load).
const warnTooOld = rateLimitedLog(log, 'decision too old; not delivered');
const DECISION_TOO_OLD = {
  reason: RefusalReason.DecisionTooOld,
  message: 'The tap took too long to reach the application; please tap again.',
};

interface Group {
  conns: Set<Connection>;
  stop: Unsubscribe;
}

/**
 * NEA sockets on this replica, grouped by what they are bound to: a terminal id (explicit) or a source
 * address (implicit). A replica subscribes to a group's delivery subject only while it holds a socket
 * of that group, so a tap request to a terminal nobody listens to fails fast with "no responders".
 */
@Injectable()
export class NeaRegistry {
  private readonly byTerminal = new Map<string, Group>();
  private readonly byAddress = new Map<string, Group>();
  private readonly presenceByTerminal = new Map<string, Group>();

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    private readonly ceremonies: CeremonyProvider,
  ) {}

  /** Binds a socket; resolves once the subscription is live at the NATS server. */
  async bind(conn: Connection): Promise<void> {
    const b = conn.binding;
    if (!b) return;
    // A new group first tells the endpoints' gateways to forget how many groups answered before.
    // A terminal id (explicit, or implicit through a remote-session mapping) groups by terminal.
    if (b.terminalId) {
      this.join(this.byTerminal, b.terminalId, conn, (set) => {
        this.announceGroup({ v: 1, terminalId: b.terminalId });
        return this.messaging.respond(TapDeliver, async (d, ctx) => this.deliver(set, d, ctx), {
          subject: tapDeliverExplicitWildcard(b.terminalId!),
        });
      });
    } else if (b.address) {
      this.join(this.byAddress, addressToken(b.address), conn, (set) => {
        this.announceGroup({ v: 1, addressToken: addressToken(b.address!) });
        return this.messaging.respond(TapDeliver, async (d, ctx) => this.deliver(set, d, ctx), {
          subject: tapDeliverImplicitWildcard(b.address!),
        });
      });
    }
    await this.messaging.flush();
  }

  private announceGroup(added: NeaGroupAdded): void {
    try {
      this.messaging.publish(NeaGroupsChanged, added);
    } catch {
      // Not connected: the endpoints' gateways trust a remembered count only briefly (GROUPS_TRUSTED_MS).
    }
  }

  /** Streams presence changes of the bound terminal to this socket. */
  async subscribePresence(conn: Connection, terminalId: string): Promise<void> {
    if (conn.presenceSubscribed) return;
    conn.presenceSubscribed = true;
    this.join(this.presenceByTerminal, terminalId, conn, (set) =>
      this.messaging.subscribe(PresenceChanged, (c) => this.forwardPresence(set, c), {
        subject: presenceChangedSubject(terminalId),
      }),
    );
    await this.messaging.flush();
  }

  unbind(conn: Connection): void {
    const b = conn.binding;
    if (!b) return;
    if (b.terminalId) this.leave(this.byTerminal, b.terminalId, conn);
    else if (b.address) this.leave(this.byAddress, addressToken(b.address), conn);
    if (conn.presenceSubscribed && b.terminalId) this.leave(this.presenceByTerminal, b.terminalId, conn);
    this.ceremonies.ceremonies.close(conn);
  }

  private join(
    groups: Map<string, Group>,
    key: string,
    conn: Connection,
    subscribe: (conns: Set<Connection>) => Unsubscribe,
  ): void {
    const existing = groups.get(key);
    if (existing) {
      existing.conns.add(conn);
      return;
    }
    const conns = new Set([conn]);
    groups.set(key, { conns, stop: subscribe(conns) });
  }

  private leave(groups: Map<string, Group>, key: string, conn: Connection): void {
    const g = groups.get(key);
    if (!g) return;
    g.conns.delete(conn);
    if (g.conns.size === 0) {
      g.stop();
      groups.delete(key);
    }
  }

  /**
   * Hands a decision to the NEA sockets of the group and waits until their logins and ceremonies have
   * used it (granted only once recorded). A decision older than the age bound is neither delivered nor
   * granted: the endpoint has stopped waiting for it, and the ack tells its replica why.
   *
   * Every group holding sockets answers the request (the explicit and implicit groups of this and other
   * replicas alike), so the endpoint's replica sums the acks. The `handed` ack goes out as soon as the
   * sockets have the tap, so that the requester hears of every group within a short, even spread; the
   * `settled` ack follows with the refusal, if any, and the requester waits for it.
   */
  private async deliver(
    conns: Set<Connection>,
    d: TapDelivery,
    ctx: ResponderContext<DeliveryAck>,
  ): Promise<DeliveryAck> {
    const ceremonies = this.ceremonies.ceremonies;
    if (ceremonies.remainingMs(d) <= 0) {
      warnTooOld({ tap: d.tapId, receivedAt: d.receivedAt });
      return { v: 1, delivered: 0, refusal: DECISION_TOO_OLD };
    }
    const handled: Array<Promise<TapHandled>> = [];
    for (const conn of conns) {
      if (!conn.open) continue;
      conn.send('tap', {
        tapId: d.tapId,
        terminalId: d.terminalId,
        kind: d.kind,
        bandId: d.bandId,
        decision: d.decision,
        at: d.receivedAt,
      });
      handled.push(ceremonies.onTap(conn, d));
    }
    if (handled.length === 0) return { v: 1, delivered: 0 };
    ctx.interim({ v: 1, delivered: handled.length, stage: 'handed' });
    const refusal = (await Promise.all(handled)).find((h) => h.refusal)?.refusal;
    return { v: 1, delivered: 0, stage: 'settled', refusal };
  }

  private forwardPresence(conns: Set<Connection>, c: PresenceChange): void {
    const strongest = c.after.terminals.find((t) => t.terminalId === c.terminalId) ?? c.after.terminals[0];
    for (const conn of conns) {
      conn.send('presence', {
        terminalId: c.terminalId,
        bandId: c.after.bandId,
        presence: c.after.presence,
        previous: c.before?.presence,
        authenticated: c.after.authenticated,
        rssi: strongest?.rssi,
        at: c.at,
      });
    }
  }

  counts(): { terminals: number; addresses: number } {
    return { terminals: this.byTerminal.size, addresses: this.byAddress.size };
  }
}
