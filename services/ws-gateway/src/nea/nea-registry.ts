import { Inject, Injectable } from '@nestjs/common';
import {
  PresenceChanged,
  TapDeliver,
  presenceChangedSubject,
  tapDeliverExplicitWildcard,
  tapDeliverImplicitWildcard,
  addressToken,
  type PresenceChange,
  type TapDelivery,
} from '@tapgate/contracts';
import type { Messaging, Unsubscribe } from '@tapgate/messaging';
import type { Connection } from '../socket/connection';
import { MESSAGING } from '../tokens';
import { CeremonyProvider } from './ceremony-wiring';

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
    if (b.mode === 'explicit' && b.terminalId) {
      this.join(this.byTerminal, b.terminalId, conn, (set) =>
        this.messaging.respond(TapDeliver, async (d) => this.deliver(set, d), {
          subject: tapDeliverExplicitWildcard(b.terminalId!),
        }),
      );
    } else if (b.address) {
      this.join(this.byAddress, addressToken(b.address), conn, (set) =>
        this.messaging.respond(TapDeliver, async (d) => this.deliver(set, d), {
          subject: tapDeliverImplicitWildcard(b.address!),
        }),
      );
    }
    await this.messaging.flush();
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
    if (b.mode === 'explicit' && b.terminalId) this.leave(this.byTerminal, b.terminalId, conn);
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

  private deliver(conns: Set<Connection>, d: TapDelivery): { v: 1; delivered: number } {
    let delivered = 0;
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
      void this.ceremonies.ceremonies.onTap(conn, d);
      delivered++;
    }
    return { v: 1, delivered };
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
