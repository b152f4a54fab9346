import { Module, type DynamicModule } from '@nestjs/common';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { EnrollmentStationService } from './enrollment/enrollment-station';
import { EndpointRegistry } from './endpoints/endpoint-registry';
import { TerminalAuthenticator } from './endpoints/terminal-auth';
import { HealthController } from './health/health.controller';
import { GatewayMetrics } from './metrics';
import { ApplicationAuthorizer } from './nea/application-auth';
import { RemoteSessionMap } from './nea/remote-sessions';
import { CeremonyProvider } from './nea/ceremony-wiring';
import { NeaRegistry } from './nea/nea-registry';
import { PresenceRelay } from './presence/presence-relay';
import type { GatewaySettings } from './settings';
import { ClientAddressResolver } from './socket/client-address';
import { ConnectionRegistry } from './socket/connection-registry';
import { ConnectionsReport } from './socket/connections-report';
import { HandshakeService } from './socket/handshake.service';
import { AgentInterfaceGateway, WebApiInterfaceGateway } from './socket/socket.gateway';
import { EnrollmentDirectory } from './tap/enrollments';
import { StatusMemory } from './tap/status-memory';
import { TapDecider } from './tap/tap-decider';
import { KvTapPolicySource, TAP_POLICY_SOURCE } from './tap/tap-policy-source';
import { TapService } from './tap/tap.service';
import { GATEWAY_SETTINGS, MESSAGING } from './tokens';

@Module({})
export class GatewayModule {
  static forRoot(settings: GatewaySettings): DynamicModule {
    return {
      module: GatewayModule,
      controllers: [HealthController],
      providers: [
        { provide: GATEWAY_SETTINGS, useValue: settings },
        {
          provide: MESSAGING,
          useFactory: (): Messaging => connectMessaging({ ...settings.nats }),
        },
        {
          provide: GatewayMetrics,
          useFactory: () => new GatewayMetrics([settings.listeners.agent, settings.listeners.webapi]),
        },
        {
          provide: ConnectionRegistry,
          useFactory: (metrics: GatewayMetrics) => new ConnectionRegistry(settings.limits, metrics),
          inject: [GatewayMetrics],
        },
        {
          provide: ClientAddressResolver,
          useFactory: () => new ClientAddressResolver(settings.trustedProxies),
        },
        EnrollmentDirectory,
        KvTapPolicySource,
        { provide: TAP_POLICY_SOURCE, useExisting: KvTapPolicySource },
        TerminalAuthenticator,
        EndpointRegistry,
        EnrollmentStationService,
        CeremonyProvider,
        NeaRegistry,
        ApplicationAuthorizer,
        RemoteSessionMap,
        PresenceRelay,
        TapDecider,
        StatusMemory,
        TapService,
        HandshakeService,
        ConnectionsReport,
        AgentInterfaceGateway,
        ...(settings.listeners.webapi ? [WebApiInterfaceGateway] : []),
      ],
    };
  }
}
