import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CloseCode, EndpointEvents, type EndpointLifecycle } from '@tapgate/contracts';
import type { Messaging, Unsubscribe } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import type { Connection } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { GatewaySettings } from '../settings';

const log = createLogger('endpoints');

/**
 * Terminal id -> the endpoint socket on this replica. One terminal has one endpoint: a newer connection
 * replaces an older one, on this replica directly and across replicas through lifecycle events.
 */
@Injectable()
export class EndpointRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly byTerminal = new Map<string, Connection>();
  private stop: Unsubscribe | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
  ) {}

  onModuleInit(): void {
    this.stop = this.messaging.subscribe(EndpointEvents, (e) => this.onRemoteEvent(e));
  }

  onModuleDestroy(): void {
    this.stop?.();
  }

  private onRemoteEvent(e: EndpointLifecycle): void {
    if (e.event !== 'online' || e.gateway === this.settings.gatewayId) return;
    const local = this.byTerminal.get(e.terminalId);
    if (local && local.connectedAt < Date.parse(e.at)) {
      log.info(
        { terminal: e.terminalId, by: e.gateway },
        'endpoint reconnected elsewhere; closing the old socket',
      );
      local.close(CloseCode.Replaced, 'replaced by a newer connection');
    }
  }

  register(conn: Connection, terminalId: string): void {
    const previous = this.byTerminal.get(terminalId);
    if (previous && previous !== conn) previous.close(CloseCode.Replaced, 'replaced by a newer connection');
    this.byTerminal.set(terminalId, conn);
    this.announce(conn, terminalId, 'online');
  }

  unregister(conn: Connection): void {
    if (conn.terminalId && this.byTerminal.get(conn.terminalId) === conn) {
      this.byTerminal.delete(conn.terminalId);
      this.announce(conn, conn.terminalId, 'offline');
    }
  }

  get(terminalId: string): Connection | undefined {
    return this.byTerminal.get(terminalId);
  }

  get size(): number {
    return this.byTerminal.size;
  }

  private announce(conn: Connection, terminalId: string, event: 'online' | 'offline'): void {
    try {
      this.messaging.publish(EndpointEvents, {
        v: 1,
        terminalId,
        event,
        address: conn.address,
        gateway: this.settings.gatewayId,
        at: new Date(conn.connectedAt).toISOString(),
      });
    } catch {
      // NATS down: the event is informational; the socket itself still works for this replica.
    }
  }
}
