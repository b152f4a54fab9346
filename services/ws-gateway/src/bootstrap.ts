import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import type { AgentConfig, TlsMaterial } from '@tapgate/config';
import { natsMessagingOptions, type Messaging } from '@tapgate/messaging';
import { NestPinoLogger, createLogger, setLogLevel } from '@tapgate/telemetry';
import { GatewayModule } from './gateway.module';
import { HealthController } from './health/health.controller';
import { CeremonyProvider } from './nea/ceremony-wiring';
import { GatewayMetrics } from './metrics';
import type { GatewaySettings } from './settings';
import { ClientAddressResolver } from './socket/client-address';
import { ConnectionRegistry } from './socket/connection-registry';
import { drainSockets, type DrainReport } from './socket/drain';
import type { Interface } from './socket/connection';
import { AgentInterfaceGateway, WebApiInterfaceGateway } from './socket/socket.gateway';
import { TapgateWsAdapter, type ListenerSpec } from './socket/tapgate-ws.adapter';
import { MESSAGING } from './tokens';

const log = createLogger('ws-gateway');

/** The gateway's own view of the validated config. */
export function gatewaySettings(
  cfg: AgentConfig<'agent' | 'webapi' | 'nats' | 'http' | 'gateway' | 'assertions' | 'audit'>,
): GatewaySettings {
  const listener = (iface: Interface, l: { port: number; tls?: TlsMaterial }): ListenerSpec => ({
    iface,
    port: l.port,
    tls: l.tls
      ? { material: l.tls, requestClientCert: iface === 'agent' && cfg.gateway.endpointMtls }
      : undefined,
  });
  return {
    gatewayId: cfg.gateway.gatewayId,
    listeners: {
      agent: listener('agent', cfg.agent),
      webapi: cfg.webapi.enabled ? listener('webapi', cfg.webapi) : undefined,
    },
    http: { host: cfg.http.host, port: cfg.http.port },
    limits: {
      maxFrameBytes: cfg.gateway.maxFrameBytes,
      handshakeTimeoutMs: cfg.gateway.handshakeTimeoutMs,
      heartbeatIntervalMs: cfg.gateway.heartbeatIntervalMs,
      rateLimitPerSecond: cfg.gateway.rateLimitPerSecond,
      rateLimitBurst: cfg.gateway.rateLimitBurst,
      floodCloseAfter: cfg.gateway.floodCloseAfter,
    },
    trustedProxies: cfg.gateway.trustedProxies,
    allowedOrigins: cfg.gateway.allowedOrigins,
    allowUnauthenticatedExplicitBinding: cfg.gateway.allowUnauthenticatedExplicitBinding,
    nats: natsMessagingOptions(cfg.nats, `ws-gateway/${cfg.gateway.gatewayId}`),
    tapTimeoutMs: cfg.gateway.tapTimeoutMs,
    challengeTtlMs: cfg.gateway.challengeTtlMs,
    requireEndpointCredentials: cfg.gateway.requireEndpointCredentials,
    tapPolicy: {
      allowUidTaps: cfg.gateway.allowUidTaps,
      allowBleTaps: cfg.gateway.allowBleTaps,
      requirePresence: cfg.gateway.requirePresence,
    },
    esignTimeoutMs: cfg.gateway.esignTimeoutMs,
    assertions: cfg.assertions,
    audit: cfg.audit,
    drain: {
      delayMs: cfg.gateway.drainDelayMs,
      spreadMs: cfg.gateway.drainSpreadMs,
      timeoutMs: cfg.gateway.drainTimeoutMs,
    },
  };
}

export interface RunningGateway {
  app: INestApplication;
  /** Bound ports (useful when tests ask for port 0 semantics through free ports). */
  ports: { agent: number | undefined; webapi: number | undefined; http: number };
  messaging: Messaging;
  /**
   * Graceful stop (SIGTERM): readiness false, new logins and ceremonies refused (`draining`), then the
   * drain of `[gateway] drain_*` closes every socket with 1012 and a reconnect hint once its work is
   * done, and everything closes. `{ drain: false }`: a plain stop, sockets closed at once with 1001.
   */
  close(opts?: { drain?: boolean }): Promise<void>;
  /** Resolves when the sockets of a drain started by close() are closed, with what the drain did. */
  drained(): Promise<DrainReport | undefined>;
}

/** Boots the gateway in this process (main.ts and the tests both use it). */
export async function bootstrap(settings: GatewaySettings): Promise<RunningGateway> {
  const app = await NestFactory.create(GatewayModule.forRoot(settings), {
    logger: new NestPinoLogger(),
    abortOnError: false,
  });
  const adapter = new TapgateWsAdapter(
    app,
    settings.listeners,
    settings.limits,
    app.get(ConnectionRegistry),
    app.get(ClientAddressResolver),
    app.get(GatewayMetrics),
    {
      agent: app.get(AgentInterfaceGateway),
      webapi: settings.listeners.webapi ? app.get(WebApiInterfaceGateway) : undefined,
    },
    settings.allowedOrigins,
  );
  app.useWebSocketAdapter(adapter);
  await app.listen(settings.http.port, settings.http.host);
  const socketPorts = await adapter.listening();
  app.get(HealthController).markListening();
  const registry = app.get(ConnectionRegistry);
  registry.start();
  const httpServer = app.getHttpServer() as import('node:http').Server;
  const httpAddr = httpServer.address() as { port: number };
  const messaging = app.get<Messaging>(MESSAGING);
  log.info({ ...socketPorts, http: httpAddr.port, gateway: settings.gatewayId }, 'ws-gateway listening');
  let closing: Promise<void> | undefined;
  let drainReport: Promise<DrainReport | undefined> = Promise.resolve(undefined);
  const ceremonies = app.get(CeremonyProvider);
  return {
    app,
    messaging,
    ports: { agent: socketPorts.agent, webapi: socketPorts.webapi, http: httpAddr.port },
    close(opts = {}) {
      closing ??= (async () => {
        app.get(HealthController).startDraining();
        ceremonies.startDraining();
        // No new sockets once the open ones are being closed: a client reconnecting to a replica that is
        // going away is refused at once (a refusal is cheap, and its backoff retries quickly), instead of
        // being welcomed and closed again, or keeping the listener's close waiting.
        const stopAccepting = () => adapter.stopAccepting();
        if (opts.drain ?? true) {
          drainReport = drainSockets(
            registry,
            (conn) => conn.tapsInFlight > 0 || ceremonies.ceremonies.busy(conn),
            settings.drain,
            { stopAccepting },
          );
          await drainReport;
        }
        stopAccepting();
        // Ceremonies still open get their closing record while NATS is still connected.
        await ceremonies.drain();
        registry.closeAll('server shutting down');
        await app.close();
        await messaging.close();
      })();
      return closing;
    },
    drained: () => drainReport,
  };
}

export { setLogLevel };
