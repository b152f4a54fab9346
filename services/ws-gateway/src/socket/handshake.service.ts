import { Inject, Injectable } from '@nestjs/common';
import {
  CloseCode,
  ErrorCode,
  SOCKET_PROTOCOL_MINOR,
  SOCKET_PROTOCOL_VERSION,
  type Hello,
} from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { ChallengeStore } from '../endpoints/challenge-store';
import { EnrollmentStationService } from '../enrollment/enrollment-station';
import { EndpointRegistry } from '../endpoints/endpoint-registry';
import { ENDPOINT_REFUSED_MESSAGE, TerminalAuthenticator } from '../endpoints/terminal-auth';
import { CeremonyProvider } from '../nea/ceremony-wiring';
import { ApplicationAuthorizer } from '../nea/application-auth';
import { NeaRegistry } from '../nea/nea-registry';
import { RemoteSessionMap } from '../nea/remote-sessions';
import { GATEWAY_SETTINGS } from '../tokens';
import type { GatewaySettings } from '../settings';
import { frame, type Connection, type ServerFrame } from './connection';
import { ConnectionRegistry } from './connection-registry';

const log = createLogger('handshake');

/** The `hello` step: authenticates endpoints, binds NEA clients, and answers `welcome`. */
@Injectable()
export class HandshakeService {
  constructor(
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly connections: ConnectionRegistry,
    private readonly auth: TerminalAuthenticator,
    private readonly endpoints: EndpointRegistry,
    private readonly neas: NeaRegistry,
    private readonly apps: ApplicationAuthorizer,
    private readonly ceremonies: CeremonyProvider,
    private readonly remoteSessions: RemoteSessionMap,
    private readonly stations: EnrollmentStationService,
  ) {}

  async hello(conn: Connection, hello: Hello, ref: string | undefined): Promise<ServerFrame | undefined> {
    const base = {
      sessionId: conn.id,
      protocol: SOCKET_PROTOCOL_VERSION,
      protocolMinor: SOCKET_PROTOCOL_MINOR,
      heartbeatIntervalMs: this.settings.limits.heartbeatIntervalMs,
      maxFrameBytes: this.settings.limits.maxFrameBytes,
    } as const;
    if (hello.role === 'endpoint') {
      const auth = this.auth.authenticate(conn, hello.terminalId, hello.credential);
      if (!auth.ok) {
        log.warn(
          { terminal: hello.terminalId, address: conn.address, why: auth.message },
          'endpoint refused',
        );
        // The log names the exact reason; the client gets one text for all of them (ENDPOINT_REFUSED_MESSAGE).
        refuse(conn, auth.retry ? auth : { ...auth, message: ENDPOINT_REFUSED_MESSAGE }, ref);
        return undefined;
      }
      conn.terminalId = hello.terminalId;
      conn.endpointEvidence = auth.evidence;
      conn.software = hello.software;
      conn.challenges = new ChallengeStore(this.settings.challengeTtlMs);
      this.connections.promote(conn, 'endpoint');
      this.endpoints.register(conn, hello.terminalId);
      this.stations.attach(conn);
      log.info(
        { terminal: hello.terminalId, address: conn.address, auth: auth.method },
        'endpoint connected',
      );
      return frame('welcome', { ...base, challenge: conn.challenges.issue(Date.now()) }, ref);
    }
    const app = this.apps.authorize(conn, hello);
    if (!app.ok) {
      log.warn(
        { terminal: hello.terminalId, address: conn.address, origin: conn.origin, why: app.message },
        'NEA client refused',
      );
      refuse(conn, app, ref);
      return undefined;
    }
    let mapped: string | undefined;
    if (!hello.terminalId) {
      const session = this.remoteSessions.resolve(conn);
      if (!session.ok) {
        log.warn(
          { address: conn.address, client: conn.remoteSession?.clientName, why: session.message },
          'NEA client refused',
        );
        this.apps.release(conn);
        refuse(conn, session, ref);
        return undefined;
      }
      mapped = session.terminalId;
    }
    conn.binding = hello.terminalId
      ? { mode: 'explicit', terminalId: hello.terminalId }
      : { mode: 'implicit', address: conn.address, ...(mapped ? { terminalId: mapped } : {}) };
    conn.terminalId = hello.terminalId ?? mapped;
    if (!hello.terminalId) this.remoteSessions.track(conn);
    conn.software = hello.app;
    this.connections.promote(conn, 'nea');
    this.ceremonies.ceremonies.open(conn, hello.authUrl ?? hello.app?.name ?? 'nea');
    await this.neas.bind(conn);
    log.info({ binding: conn.binding, app: hello.app?.name, application: app.principal }, 'NEA client bound');
    return frame('welcome', { ...base, binding: conn.binding }, ref);
  }

  disconnected(conn: Connection): void {
    if (conn.role === 'endpoint') {
      this.endpoints.unregister(conn);
      this.stations.detach(conn);
    }
    if (conn.role === 'nea') {
      this.neas.unbind(conn);
      this.apps.release(conn);
      this.remoteSessions.release(conn);
    }
  }
}

/** Refuses a hello: `unauthorized` + close 4001, or `unavailable` + 1013 when retrying later may work. */
function refuse(conn: Connection, why: { retry: boolean; message: string }, ref: string | undefined): void {
  conn.sendError(
    { code: why.retry ? ErrorCode.Unavailable : ErrorCode.Unauthorized, message: why.message },
    ref,
  );
  conn.close(
    why.retry ? CloseCode.TryAgainLater : CloseCode.Unauthorized,
    why.retry ? 'try again later' : 'unauthorized',
  );
}
