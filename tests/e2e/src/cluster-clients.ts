import { decodeServerFrame, encodeClientFrame, type ServerMessage } from '@tapgate/contracts';
import { connect, createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';

type LoginResult = Extract<ServerMessage, { type: 'login.result' }>['data'];

/** An NEA client bound to one terminal that asks for one login at a time. */
export class NeaSocket {
  private readonly frames: ServerMessage[] = [];
  private waiters: Array<() => void> = [];
  private closedWith: string | undefined;
  private refs = 0;

  private constructor(private readonly ws: WebSocket) {
    ws.on('error', () => undefined);
    ws.on('message', (d: Buffer) => {
      const m = decodeServerFrame(d.toString('utf8'));
      if (!(m instanceof Error)) this.frames.push(m);
      this.wake();
    });
    ws.on('close', (code) => {
      this.closedWith = `NEA socket closed (${code})`;
      this.wake();
    });
  }

  static async open(url: string, terminalId: string, credential: string): Promise<NeaSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const nea = new NeaSocket(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('NEA socket closed before it opened')));
    });
    ws.send(encodeClientFrame('hello', { role: 'nea', terminalId, credential }, 'h'));
    await nea.next((m) => m.type === 'welcome', 5_000);
    return nea;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The first frame (received or to come) that matches, removed from the list; throws on close or timeout. */
  private async next(pred: (m: ServerMessage) => boolean, timeoutMs: number): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0];
      if (this.closedWith) throw new Error(this.closedWith);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer from the gateway within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends login.request and waits for login.pending; `result` then waits for its login.result. */
  async requestLogin(
    audience: string,
    nonce: string,
  ): Promise<{ result: (timeoutMs: number) => Promise<LoginResult> }> {
    const ref = `L${++this.refs}`;
    this.ws.send(encodeClientFrame('login.request', { audience, nonce, timeoutMs: 30_000 }, ref));
    const pending = await this.next(
      (m) => (m.type === 'login.pending' || m.type === 'error') && m.ref === ref,
      5_000,
    );
    if (pending.type !== 'login.pending') {
      throw new Error(`login.request refused: ${JSON.stringify(pending.data).slice(0, 80)}`);
    }
    const requestId = pending.data.requestId;
    return {
      result: async (timeoutMs) =>
        (
          (await this.next(
            (m) => m.type === 'login.result' && m.data.requestId === requestId,
            timeoutMs,
          )) as Extract<ServerMessage, { type: 'login.result' }>
        ).data,
    };
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * A minimal layer-4 balancer, as a Kubernetes Service is to clients: one address; each new connection
 * goes to the next backend whose health check passed last (round robin); connections already made stay
 * where they are. Health is checked every HEALTH_EVERY_MS.
 */
export class TcpBalancer {
  private readonly sockets = new Set<Socket>();
  private healthy: boolean[];
  private next = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly backends: Array<{ host: string; port: number }>,
    private readonly health: (i: number) => Promise<boolean>,
  ) {
    this.healthy = backends.map(() => true);
    server.on('connection', (client) => this.forward(client));
  }

  static async start(
    backends: Array<{ host: string; port: number }>,
    health: (i: number) => Promise<boolean>,
  ): Promise<TcpBalancer> {
    const server = createServer();
    const lb = new TcpBalancer(server, backends, health);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await lb.check();
    return lb;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private async check(): Promise<void> {
    this.healthy = await Promise.all(this.backends.map((_, i) => this.health(i).catch(() => false)));
    if (!this.closed) this.timer = setTimeout(() => void this.check(), HEALTH_EVERY_MS);
  }

  private forward(client: Socket): void {
    const n = this.backends.length;
    let pick = -1;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      if (this.healthy[i]) {
        pick = i;
        break;
      }
    }
    if (pick < 0) {
      client.destroy();
      return;
    }
    this.next = pick + 1;
    const upstream = connect(this.backends[pick]);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    }
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const HEALTH_EVERY_MS = 250;
