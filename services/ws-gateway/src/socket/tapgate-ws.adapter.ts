import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import {
  CloseCode,
  ENDPOINT_MESSAGE_TYPES,
  ErrorCode,
  NEA_MESSAGE_TYPES,
  REMOTE_CLIENT_NAME_HEADER,
  decodeClientFrame,
  type ClientMessage,
  type ErrorBody,
} from '@tapgate/contracts';
import { tlsServerOptions, type TlsMaterial } from '@tapgate/config';
import { createLogger } from '@tapgate/telemetry';
import { createHash } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { GatewayMetrics } from '../metrics';
import type { ClientAddressResolver } from './client-address';
import {
  Connection,
  type ClientCertificate,
  type Interface,
  type ServerFrame,
  type SocketLimits,
} from './connection';
import type { ConnectionRegistry } from './connection-registry';
import type { HandlerReply, MessageGateway } from './message-handlers';

const log = createLogger('socket');

/** One listening interface: 9120 (agent) or 4443 (webapi), ws or wss. */
export interface ListenerSpec {
  iface: Interface;
  host?: string;
  port: number;
  tls?: { material: TlsMaterial; requestClientCert: boolean };
}

/**
 * The socket class of the gateway's servers: it carries its Connection, so that the listeners of every
 * socket are the server's shared functions rather than closures made per socket.
 */
class GatewaySocket extends WebSocket {
  conn: Connection | undefined;
}

/** The Connection of a socket of the gateway's servers (set before any listener can run). */
const connOf = (socket: WebSocket): Connection => (socket as GatewaySocket).conn!;

/** Any message type's handler, as the adapter calls it once the message is validated and permitted. */
type AnyHandler = (conn: Connection, msg: ClientMessage) => HandlerReply;

interface TapgateServer {
  iface: Interface;
  http: Server;
  wss: WebSocketServer;
  /** Set by stopAccepting: resolves once the listener is closed and its last connection ended. */
  closed?: Promise<void>;
}

/**
 * The socket ports' accept queue (Node's default is 511; the kernel caps it at net.core.somaxconn). After a
 * restart thousands of terminals reconnect within a second while the new process is still warming up; a
 * full queue drops their SYNs, and each dropped one waits for TCP's 1 s retransmission.
 */
const LISTEN_BACKLOG = 4096;

/** Protocol errors tolerated within one second before the socket is closed as abusive. */
const PROTOCOL_ERRORS_BEFORE_CLOSE = 20;

/**
 * The ws-platform adapter, specialised for Tapgate's socket protocol. Nest gateways keep the message
 * handlers; this adapter owns what must happen before a handler may run: listening with the configured
 * TLS, frame size limits, per-connection rate limits, envelope and schema validation, the handshake
 * state machine and role checks. Handlers therefore receive only valid, permitted messages, and a
 * misbehaving client only ever affects its own socket.
 */
export class TapgateWsAdapter extends WsAdapter {
  private readonly servers: TapgateServer[] = [];

  constructor(
    app: INestApplicationContext,
    private readonly listeners: Record<Interface, ListenerSpec | undefined>,
    private readonly limits: SocketLimits,
    private readonly registry: ConnectionRegistry,
    private readonly addresses: ClientAddressResolver,
    private readonly metrics: GatewayMetrics,
    /** The Nest gateway (SocketGateway) of each interface: its handlers run every socket's messages. */
    private readonly gateways: Partial<Record<Interface, MessageGateway>>,
    private readonly allowedOrigins: readonly string[] = [],
  ) {
    super(app);
  }

  override create(_port: number, options?: { interface?: Interface }): TapgateServer {
    const iface = options?.interface;
    const spec = iface ? this.listeners[iface] : undefined;
    if (!iface || !spec) throw new Error(`no listener configured for interface ${String(iface)}`);
    // The TLS policy (versions, suites, curves) is libs/config's, shared by every TLS server. Client
    // certificates are requested, not required: endpoints may authenticate with a credential instead.
    const http = spec.tls
      ? createHttpsServer(
          tlsServerOptions(spec.tls.material, { requestClientCert: spec.tls.requestClientCert }),
        )
      : createHttpServer();
    // Plain HTTP requests to a socket port get a short hint instead of hanging.
    http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('Tapgate: connect with a WebSocket client (see docs/protocol.md)\n');
    });
    http.on('tlsClientError', (err: Error) => log.debug({ iface, err: err.message }, 'TLS handshake failed'));
    http.on('clientError', (_err, socket) => socket.destroy());
    const wss = new WebSocketServer({
      WebSocket: GatewaySocket,
      server: http,
      maxPayload: this.limits.maxFrameBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Browsers always send Origin; a page from an origin not on the list is refused before the
      // upgrade (HTTP 403), so a foreign web page cannot bind to a terminal and watch its taps.
      verifyClient: (
        info: { origin?: string },
        done: (ok: boolean, code?: number, message?: string) => void,
      ) =>
        done(
          this.allowedOrigins.length === 0 ||
            info.origin === undefined ||
            this.allowedOrigins.includes(info.origin),
          403,
          'origin not allowed',
        ),
    });
    wss.on('error', (err) => log.error({ iface, err: err.message }, 'websocket server error'));
    http.listen({ port: spec.port, host: spec.host, backlog: LISTEN_BACKLOG });
    const server = { iface, http, wss };
    this.servers.push(server);
    return server;
  }

  /** Resolves when every interface is listening (or rejects with the listen error, e.g. EADDRINUSE). */
  async listening(): Promise<Record<Interface, number | undefined>> {
    const ports: Record<Interface, number | undefined> = { agent: undefined, webapi: undefined };
    for (const s of this.servers) {
      if (!s.http.listening) {
        await new Promise<void>((resolve, reject) => {
          s.http.once('listening', resolve);
          s.http.once('error', reject);
        });
      }
      const addr = s.http.address();
      ports[s.iface] = typeof addr === 'object' && addr ? addr.port : undefined;
    }
    return ports;
  }

  /**
   * Every socket of a server shares these listeners: Nest's own per-client binding (a bound function and
   * an object per handler, rxjs streams, closures) would cost about 2 KB per idle socket, and the memory
   * goal is about exactly those per-socket allocations. The handlers are the gateway's table of them
   * (SocketGateway.handlers).
   */
  override bindClientConnect(server: TapgateServer): void {
    const gateway = this.gateways[server.iface];
    if (!gateway) throw new Error(`no gateway for interface ${server.iface}`);
    // ws calls a listener with the socket as `this`: plain functions, one set per server.
    const message = (conn: Connection, data: RawData, isBinary: boolean) =>
      this.onMessage(conn, gateway, data, isBinary);
    const closed = (conn: Connection) => {
      this.registry.remove(conn);
      gateway.handleDisconnect(conn);
    };
    const failed = (conn: Connection, err: Error) => {
      // ws closes the socket itself (e.g. 1009 for an oversized frame); this only records why.
      this.metrics.socketErrors.add(1, { code: (err as { code?: string }).code ?? 'socket_error' });
      log.debug({ conn: conn.id, err: err.message }, 'socket error');
    };
    function onMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
      message(connOf(this), data, isBinary);
    }
    function onClose(this: WebSocket): void {
      closed(connOf(this));
    }
    function onError(this: WebSocket, err: Error): void {
      failed(connOf(this), err);
    }
    server.wss.on('connection', (socket: WebSocket, req: IncomingMessage) => {
      const tls = req.socket as TLSSocket;
      const address = this.addresses.resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
      const conn = new Connection(
        socket,
        server.iface,
        address,
        verifiedClientCertificate(tls),
        this.limits,
        Date.now(),
      );
      conn.clientCertError = rejectedClientCertificate(tls);
      conn.origin = req.headers.origin;
      if (this.addresses.throughTrustedProxy(req.socket.remoteAddress)) {
        const name = req.headers[REMOTE_CLIENT_NAME_HEADER];
        conn.remoteSession = { clientName: Array.isArray(name) ? name[0] : name };
      }
      (socket as GatewaySocket).conn = conn;
      socket.on('error', onError);
      this.registry.add(conn);
      socket.on('message', onMessage);
      socket.on('close', onClose);
    });
  }

  private onMessage(conn: Connection, gateway: MessageGateway, data: RawData, isBinary: boolean): void {
    // The gateway already closed this socket (a drain, say): no answer could reach the client, so a
    // tap that crossed the close frame is not decided at all; the client sees the close and retries.
    if (!conn.open) return;
    const now = Date.now();
    if (!conn.takeToken(this.limits, now)) {
      this.rateLimited(conn, now);
      return;
    }
    conn.lastSeen = now;
    if (isBinary) {
      this.protocolError(conn, now, {
        code: ErrorCode.InvalidEnvelope,
        message: 'binary frames are not supported',
      });
      return;
    }
    const decoded = decodeClientFrame(rawText(data));
    if (!decoded.ok) {
      this.protocolError(conn, now, decoded.error, decoded.ref);
      return;
    }
    const msg = decoded.message;
    const refused = notPermitted(conn, msg.type);
    // Every type has a handler (MessageHandlers is exhaustive); a missing one would still fail closed.
    const handler = refused ? undefined : (gateway.handlers[msg.type] as AnyHandler | undefined);
    if (!handler) {
      const noHandler = { code: ErrorCode.UnknownType, message: `no handler for "${msg.type}"` };
      this.protocolError(conn, now, refused ?? noHandler, msg.ref);
      return;
    }
    // A handler's reply (or its failure) is sent once it settles, also when the handler is synchronous.
    new Promise<ServerFrame | undefined>((resolve) => resolve(handler(conn, msg))).then(
      (reply) => {
        if (reply) conn.sendFrame(reply);
      },
      (err: unknown) => {
        log.error({ conn: conn.id, type: msg.type, err }, 'handler failed');
        conn.sendError({ code: ErrorCode.Internal, message: 'internal error' }, msg.ref);
      },
    );
  }

  private rateLimited(conn: Connection, now: number): void {
    if (now - conn.dropWindowStart > 1000) {
      conn.dropWindowStart = now;
      conn.droppedInWindow = 0;
    }
    conn.droppedInWindow++;
    this.metrics.socketErrors.add(1, { code: ErrorCode.RateLimited });
    if (conn.droppedInWindow > this.limits.floodCloseAfter) {
      conn.close(CloseCode.PolicyViolation, 'message flood');
      return;
    }
    // One error frame per second at most: answering every dropped frame would amplify the flood.
    if (now - conn.lastRateErrorAt >= 1000) {
      conn.lastRateErrorAt = now;
      conn.sendError({
        code: ErrorCode.RateLimited,
        message: 'message rate limit exceeded; messages dropped',
      });
    }
  }

  private protocolError(
    conn: Connection,
    now: number,
    error: Parameters<Connection['sendError']>[0],
    ref?: string,
  ): void {
    this.metrics.socketErrors.add(1, { code: error.code });
    conn.sendError(error, ref);
    if (now - conn.errorWindowStart > 1000) {
      conn.errorWindowStart = now;
      conn.protocolErrors = 0;
    }
    if (++conn.protocolErrors > PROTOCOL_ERRORS_BEFORE_CLOSE) {
      conn.close(CloseCode.PolicyViolation, 'too many protocol errors');
    }
  }

  /**
   * Closes every socket port's listener: new connections are refused from now on (ECONNREFUSED), the
   * sockets already open go on. Idempotent; close() finishes the job.
   */
  stopAccepting(): void {
    for (const server of this.servers) {
      server.closed ??= new Promise<void>((resolve) => server.http.close(() => resolve()));
    }
  }

  override async close(server: TapgateServer): Promise<void> {
    await new Promise<void>((resolve) => server.wss.close(() => resolve()));
    this.stopAccepting();
    server.http.closeAllConnections();
    await server.closed;
  }
}

/**
 * Why a message of this type may not run on this socket now (the handshake state machine and the
 * role's message types), or undefined when it may.
 */
function notPermitted(conn: Connection, type: ClientMessage['type']): ErrorBody | undefined {
  if (conn.role === undefined) {
    return type === 'hello' ? undefined : { code: ErrorCode.HandshakeRequired, message: 'send hello first' };
  }
  if (type === 'hello') return { code: ErrorCode.AlreadyHandshaken, message: 'hello was already accepted' };
  if (!(conn.role === 'endpoint' ? ENDPOINT_MESSAGE_TYPES : NEA_MESSAGE_TYPES).includes(type)) {
    return { code: ErrorCode.UnknownType, message: `"${type}" is not available to ${conn.role} clients` };
  }
  return undefined;
}

/**
 * The client certificate, only when the TLS layer verified it (chain to `cacertfile`, dates, CRL):
 * `rejectUnauthorized` is off so credential endpoints can connect, hence `authorized` must be checked.
 */
function verifiedClientCertificate(tls: TLSSocket): ClientCertificate | undefined {
  if (!tls.encrypted || !tls.authorized) return undefined;
  const peer = tls.getPeerCertificate();
  if (!peer?.raw) return undefined;
  const subjectCn = peer.subject?.CN;
  const cn = Array.isArray(subjectCn) ? subjectCn[0] : subjectCn;
  if (typeof cn !== 'string') return undefined;
  return { cn, sha256: createHash('sha256').update(peer.raw).digest('hex') };
}

/** The verification error of a client certificate that was presented but not verified, if any. */
function rejectedClientCertificate(tls: TLSSocket): string | undefined {
  if (!tls.encrypted || tls.authorized || !tls.getPeerCertificate()?.raw) return undefined;
  return String(tls.authorizationError ?? 'unverified');
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
