import { Inject, Injectable } from '@nestjs/common';
import {
  CloseCode,
  ErrorCode,
  MAX_RECONNECT_HINT_MS,
  SOCKET_PROTOCOL_MINOR,
  SOCKET_PROTOCOL_VERSION,
  encodeReconnectHint,
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

/** The shortest window a not-ready gateway spreads its refused clients' retries over. */
const NOT_READY_MIN_RETRY_WINDOW_MS = 1000;

/**
 * The reconnect hint of a 1013 (not ready yet): a random delay in a window as long as the gateway has
 * been starting (at least 1 s, at most the 30 s a hint may ask for). A gateway that just started is
 * ready within a second, so its clients come back at once and spread over that second; one that has
 * waited long (NATS unreachable) spreads them ever wider, as their own backoff would.
 */
export function notReadyRetryHintMs(startingForMs: number, random: () => number = Math.random): number {
  const window = Math.min(MAX_RECONNECT_HINT_MS, Math.max(NOT_READY_MIN_RETRY_WINDOW_MS, startingForMs));
  return Math.round(random() * window);
}

/** The `hello` step: authenticates endpoints, binds NEA clients, and answers `welcome`. */
@Injectable()
export class HandshakeService {
  /** When this gateway started (its registries load from then on): see notReadyRetryHintMs. */
  private readonly startedAt = Date.now();

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
        this.refuse(conn, auth.retry ? auth : { ...auth, message: ENDPOINT_REFUSED_MESSAGE }, ref);
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
      this.refuse(conn, app, ref);
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
        this.refuse(conn, session, ref);
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

  /**
   * Refuses a hello: `unauthorized` + close 4001, or `unavailable` + 1013 with a reconnect hint when
   * retrying later may work (docs/protocol.md, "Reconnecting").
   */
  private refuse(conn: Connection, why: { retry: boolean; message: string }, ref: string | undefined): void {
    conn.sendError(
      { code: why.retry ? ErrorCode.Unavailable : ErrorCode.Unauthorized, message: why.message },
      ref,
    );
    if (why.retry) {
      conn.close(
        CloseCode.TryAgainLater,
        encodeReconnectHint(notReadyRetryHintMs(Date.now() - this.startedAt)),
      );
    } else {
      conn.close(CloseCode.Unauthorized, 'unauthorized');
    }
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
