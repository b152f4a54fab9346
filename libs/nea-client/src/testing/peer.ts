import { randomUUID } from 'node:crypto';
import {
  decodeClientFrame,
  encodeServerFrame,
  type ClientMessage,
  type ErrorBody,
  type ServerMessageData,
  type ServerMessageType,
} from '@tapgate/contracts';
import { freePort, waitFor } from '@tapgate/testing';
import { WebSocketServer, type WebSocket } from 'ws';

/** One client socket as the peer sees it. */
export class PeerConnection {
  hello: Extract<ClientMessage, { type: 'hello' }>['data'] | undefined;
  constructor(readonly socket: WebSocket) {}

  send<T extends ServerMessageType>(type: T, data: ServerMessageData<T>, ref?: string): void {
    this.socket.send(encodeServerFrame(type, data, ref));
  }

  sendRaw(text: string): void {
    this.socket.send(text);
  }
}

/**
 * A protocol peer double for unit-testing the SDK's state machine: a real WebSocket server that checks
 * every client frame with @tapgate/contracts' strict decoder and answers with contracts-encoded frames.
 * It handshakes and answers pings by itself; everything else the test scripts.
 */
export class ProtocolPeer {
  readonly connections: PeerConnection[] = [];
  readonly received: Array<{ conn: PeerConnection; message: ClientMessage }> = [];
  /** Client frames the contracts rejected: every test expects none. */
  readonly violations: ErrorBody[] = [];
  /** Connections the peer no longer answers (a half-open connection). */
  readonly silenced = new Set<PeerConnection>();
  heartbeatIntervalMs: number;
  private server: WebSocketServer | undefined;
  private cursor = 0;

  private constructor(
    readonly port: number,
    opts: { heartbeatIntervalMs?: number },
  ) {
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 15_000;
  }

  static async start(opts: { port?: number; heartbeatIntervalMs?: number } = {}): Promise<ProtocolPeer> {
    const peer = new ProtocolPeer(opts.port ?? (await freePort()), opts);
    await peer.listen();
    return peer;
  }

  get latest(): PeerConnection {
    const c = this.connections.at(-1);
    if (!c) throw new Error('no connection yet');
    return c;
  }

  async listen(): Promise<void> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: this.port });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('connection', (socket) => {
      const conn = new PeerConnection(socket);
      this.connections.push(conn);
      socket.on('message', (data: Buffer) => this.onMessage(conn, data.toString('utf8')));
    });
    this.server = server;
  }

  private onMessage(conn: PeerConnection, text: string): void {
    if (this.silenced.has(conn)) return;
    const decoded = decodeClientFrame(text);
    if (!decoded.ok) {
      this.violations.push(decoded.error);
      return;
    }
    const { message } = decoded;
    this.received.push({ conn, message });
    if (message.type === 'hello') {
      if (message.data.role !== 'nea') return;
      conn.hello = message.data;
      conn.send(
        'welcome',
        {
          sessionId: randomUUID(),
          protocol: 1,
          heartbeatIntervalMs: this.heartbeatIntervalMs,
          maxFrameBytes: 65_536,
          binding: message.data.terminalId
            ? { mode: 'explicit', terminalId: message.data.terminalId }
            : { mode: 'implicit', address: '127.0.0.1' },
        },
        message.ref,
      );
    } else if (message.type === 'ping') {
      conn.send('pong', undefined, message.ref);
    }
  }

  /** Waits for the next client frame of `type` (frames are consumed in order). */
  async next<T extends ClientMessage['type']>(
    type: T,
    timeoutMs = 5_000,
  ): Promise<{ conn: PeerConnection; message: Extract<ClientMessage, { type: T }> }> {
    const found = await waitFor(
      () => {
        for (let i = this.cursor; i < this.received.length; i++) {
          if (this.received[i].message.type === type) {
            this.cursor = i + 1;
            return this.received[i];
          }
        }
        return undefined;
      },
      { timeoutMs, what: `a ${type} frame` },
    );
    return found as { conn: PeerConnection; message: Extract<ClientMessage, { type: T }> };
  }

  count(type: ClientMessage['type']): number {
    return this.received.filter((r) => r.message.type === type).length;
  }

  /** Closes every connection with `code` and stops listening. */
  async stop(code = 1001): Promise<void> {
    for (const c of this.connections) c.socket.close(code, 'peer stopping');
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const client of server.clients) client.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
