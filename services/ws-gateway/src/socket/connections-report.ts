import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  GatewayConnections,
  MAX_LISTED_CONNECTIONS,
  type BoundApplication,
  type ConnectedEndpoint,
  type GatewayConnectionsAnswer,
} from '@tapgate/contracts';
import type { Messaging, Unsubscribe } from '@tapgate/messaging';
import { EndpointRegistry } from '../endpoints/endpoint-registry';
import type { GatewaySettings } from '../settings';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import type { Connection } from './connection';
import { ConnectionRegistry } from './connection-registry';

/**
 * Answers the policy service's GatewayConnections request with the endpoints and NEA clients this
 * replica holds, so the Terminals page shows who is online and which applications are bound on any
 * replica, including sockets that connected before the policy service started.
 */
@Injectable()
export class ConnectionsReport implements OnModuleInit, OnModuleDestroy {
  private stop: Unsubscribe | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly connections: ConnectionRegistry,
    private readonly endpoints: EndpointRegistry,
  ) {}

  onModuleInit(): void {
    this.stop = this.messaging.respond(GatewayConnections, () => Promise.resolve(this.report()));
  }

  onModuleDestroy(): void {
    this.stop?.();
  }

  report(): GatewayConnectionsAnswer {
    const endpoints: ConnectedEndpoint[] = [];
    const applications: BoundApplication[] = [];
    let truncated = false;
    for (const conn of this.connections.values()) {
      if (conn.role === 'endpoint' && conn.terminalId && this.endpoints.get(conn.terminalId) === conn) {
        if (endpoints.length < MAX_LISTED_CONNECTIONS) endpoints.push(endpointOf(conn, conn.terminalId));
        else truncated = true;
      } else if (conn.role === 'nea' && conn.binding) {
        if (applications.length < MAX_LISTED_CONNECTIONS) applications.push(applicationOf(conn));
        else truncated = true;
      }
    }
    return {
      v: 1,
      gateway: this.settings.gatewayId,
      endpoints,
      applications,
      ...(truncated ? { truncated } : {}),
    };
  }
}

const since = (conn: Connection) => new Date(conn.connectedAt).toISOString();

function endpointOf(conn: Connection, terminalId: string): ConnectedEndpoint {
  return {
    terminalId,
    address: conn.address,
    since: since(conn),
    ...(conn.software ? { software: conn.software } : {}),
  };
}

function applicationOf(conn: Connection): BoundApplication {
  const b = conn.binding!;
  return {
    binding: b.mode,
    ...(b.terminalId ? { terminalId: b.terminalId } : {}),
    address: conn.address,
    ...(conn.application ? { applicationId: conn.application.applicationId } : {}),
    ...(conn.software ? { app: conn.software } : {}),
    since: since(conn),
  };
}
