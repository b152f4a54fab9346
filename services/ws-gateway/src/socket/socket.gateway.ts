import { Injectable } from '@nestjs/common';
import { WebSocketGateway } from '@nestjs/websockets';
import { ErrorCode } from '@tapgate/contracts';
import { EnrollmentStationService } from '../enrollment/enrollment-station';
import { CeremonyProvider } from '../nea/ceremony-wiring';
import { NeaRegistry } from '../nea/nea-registry';
import { PresenceRelay } from '../presence/presence-relay';
import { TapService } from '../tap/tap.service';
import { frame, type Connection, type ServerFrame } from './connection';
import { HandshakeService } from './handshake.service';
import type { MessageGateway, MessageHandlers, MessageOf as Msg } from './message-handlers';

/**
 * Message handlers shared by both interfaces. The adapter (TapgateWsAdapter) has already validated
 * every message and checked that its type is allowed for the connection's role and handshake state.
 */
@Injectable()
export abstract class SocketGateway implements MessageGateway {
  /**
   * The handler of each message type. The adapter (TapgateWsAdapter) runs them itself, once per message,
   * rather than through Nest's @SubscribeMessage binding, which allocated about 2 KB per socket.
   */
  readonly handlers: MessageHandlers = {
    hello: (conn, msg) => this.onHello(conn, msg),
    ping: (conn, msg) => this.onPing(conn, msg),
    tap: (conn, msg) => this.onTap(conn, msg),
    'enroll.tap': (conn, msg) => this.onEnrollTap(conn, msg),
    adverts: (conn, msg) => this.onAdverts(conn, msg),
    'challenge.request': (conn, msg) => this.onChallengeRequest(conn, msg),
    'presence.subscribe': (conn, msg) => this.onPresenceSubscribe(conn, msg),
    'login.request': (conn, msg) => this.onLoginRequest(conn, msg),
    'login.cancel': (conn, msg) => this.onLoginCancel(conn, msg),
    'esign.open': (conn, msg) => this.onEsignOpen(conn, msg),
    'esign.cancel': (conn, msg) => this.onEsignCancel(conn, msg),
  };

  constructor(
    private readonly handshake: HandshakeService,
    private readonly taps: TapService,
    private readonly presence: PresenceRelay,
    private readonly neas: NeaRegistry,
    private readonly ceremonies: CeremonyProvider,
    private readonly stations: EnrollmentStationService,
  ) {}

  onHello(conn: Connection, msg: Msg<'hello'>): Promise<ServerFrame | undefined> {
    return this.handshake.hello(conn, msg.data, msg.ref);
  }

  onPing(_conn: Connection, msg: Msg<'ping'>): ServerFrame {
    return frame('pong', undefined, msg.ref);
  }

  async onTap(conn: Connection, msg: Msg<'tap'>): Promise<ServerFrame> {
    conn.tapsInFlight++;
    try {
      return await this.taps.handle(conn, msg.data, msg.ref);
    } finally {
      conn.tapsInFlight--;
    }
  }

  onEnrollTap(conn: Connection, msg: Msg<'enroll.tap'>): Promise<ServerFrame> {
    return this.stations.handleTap(conn, msg.data, msg.ref);
  }

  onAdverts(conn: Connection, msg: Msg<'adverts'>): ServerFrame | undefined {
    return this.presence.relay(conn, msg.data.adverts, msg.ref);
  }

  onChallengeRequest(conn: Connection, msg: Msg<'challenge.request'>): ServerFrame {
    return frame('challenge', conn.challenges!.issue(Date.now()), msg.ref);
  }

  async onPresenceSubscribe(
    conn: Connection,
    msg: Msg<'presence.subscribe'>,
  ): Promise<ServerFrame | undefined> {
    // Implicit bindings (also those a remote-session mapping pointed at a terminal) get no presence.
    const terminalId = conn.binding?.mode === 'explicit' ? conn.binding.terminalId : undefined;
    if (!terminalId) {
      return frame(
        'error',
        {
          code: ErrorCode.SchemaViolation,
          message: 'presence needs an explicit terminal binding (terminalId in hello)',
        },
        msg.ref,
      );
    }
    await this.neas.subscribePresence(conn, terminalId);
    return undefined;
  }

  onLoginRequest(conn: Connection, msg: Msg<'login.request'>): ServerFrame {
    const unavailable = this.ceremoniesUnavailable(msg.ref);
    if (unavailable) return unavailable;
    const pending = this.ceremonies.ceremonies.startLogin(conn, msg.data);
    if (!pending) {
      return frame('error', { code: ErrorCode.Conflict, message: 'a login is already pending' }, msg.ref);
    }
    return frame('login.pending', pending, msg.ref);
  }

  onLoginCancel(conn: Connection, msg: Msg<'login.cancel'>): ServerFrame | undefined {
    if (this.ceremonies.ceremonies.cancelLogin(conn, msg.ref)) return undefined;
    return frame('error', { code: ErrorCode.Conflict, message: 'no login is pending' }, msg.ref);
  }

  onEsignOpen(conn: Connection, msg: Msg<'esign.open'>): ServerFrame {
    const unavailable = this.ceremoniesUnavailable(msg.ref);
    if (unavailable) return unavailable;
    const opened = this.ceremonies.ceremonies.openCeremony(conn, msg.data);
    if (!opened) {
      return frame(
        'error',
        { code: ErrorCode.Conflict, message: 'an e-signature ceremony is already open' },
        msg.ref,
      );
    }
    return frame('esign.opened', opened, msg.ref);
  }

  onEsignCancel(conn: Connection, msg: Msg<'esign.cancel'>): ServerFrame | undefined {
    if (this.ceremonies.ceremonies.cancelCeremony(conn, msg.data.ceremonyId, msg.ref)) return undefined;
    return frame('error', { code: ErrorCode.Conflict, message: 'no such open ceremony' }, msg.ref);
  }

  private ceremoniesUnavailable(ref: string | undefined): ServerFrame | undefined {
    if (this.ceremonies.draining) {
      return frame(
        'error',
        {
          code: ErrorCode.Draining,
          message: 'this gateway is shutting down; open it again once reconnected',
        },
        ref,
      );
    }
    if (this.ceremonies.available()) return undefined;
    return frame(
      'error',
      {
        code: ErrorCode.Unavailable,
        message: 'login and e-signature are not available (no signing key or audit trail)',
      },
      ref,
    );
  }

  handleDisconnect(conn: Connection): void {
    this.handshake.disconnected(conn);
  }
}

/** Port 9120: terminal endpoints (/socket/websocket) and NEA clients. The port number here is a key only. */
@WebSocketGateway(9120, { interface: 'agent' })
export class AgentInterfaceGateway extends SocketGateway {}

/** Port 4443: the WebAPI interface for NEA clients (browsers). */
@WebSocketGateway(4443, { interface: 'webapi' })
export class WebApiInterfaceGateway extends SocketGateway {}
