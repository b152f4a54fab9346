import {
  decodeServerFrame,
  encodeClientFrame,
  type ClientMessageData,
  type ClientMessageType,
  type ServerMessage,
} from '@tapgate/contracts';
import WebSocket from 'ws';
import { TEST_APP_CREDENTIAL } from './stack';

/**
 * A raw protocol client for tests: sends frames as given (valid or not) and records everything the
 * gateway sends back, so a test can assert on error frames and close codes.
 */
export class RawClient {
  readonly frames: ServerMessage[] = [];
  readonly raw: string[] = [];
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer) => {
      const text = d.toString('utf8');
      this.raw.push(text);
      const m = decodeServerFrame(text);
      if (!(m instanceof Error)) this.frames.push(m);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    ws.on('error', () => undefined);
  }

  static async open(url: string, opts: WebSocket.ClientOptions = {}): Promise<RawClient> {
    const ws = new WebSocket(url, opts);
    const c = new RawClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return c;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send<T extends ClientMessageType>(type: T, data: ClientMessageData<T>, ref?: string): void {
    this.ws.send(encodeClientFrame(type, data, ref));
  }

  sendRaw(text: string | Buffer): void {
    this.ws.send(text);
  }

  /** Waits for the first frame (since `from`) that matches. */
  async next<T extends ServerMessage['type']>(
    type: T,
    pred: (m: Extract<ServerMessage, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
    from = 0,
  ): Promise<Extract<ServerMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames
        .slice(from)
        .find(
          (m): m is Extract<ServerMessage, { type: T }> =>
            m.type === type && pred(m as Extract<ServerMessage, { type: T }>),
        );
      if (found) return found;
      if (this.closed) {
        throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for ${type}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${this.raw.join(' | ').slice(0, 500)}`);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('socket did not close');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Connects an NEA client and completes its handshake. Explicit bindings present `credential`, by default
 * the stack's all-terminals test application's.
 */
export async function neaClient(
  url: string,
  terminalId?: string,
  opts: WebSocket.ClientOptions & { credential?: string } = {},
): Promise<RawClient> {
  const { credential = terminalId ? TEST_APP_CREDENTIAL : undefined, ...wsOpts } = opts;
  const c = await RawClient.open(url, wsOpts);
  c.send('hello', { role: 'nea', terminalId, credential, app: { name: 'test-nea', version: '1' } }, 'h');
  await c.next('welcome');
  return c;
}

/** Connects an endpoint socket with its terminal credential and completes its handshake. */
export async function endpointClient(
  url: string,
  terminalId: string,
  credential: string,
): Promise<RawClient> {
  const c = await RawClient.open(url);
  c.send('hello', { role: 'endpoint', terminalId, credential }, 'h');
  await c.next('welcome');
  return c;
}

let refs = 0;

/** Takes `n` fresh challenges on a raw endpoint socket (one `challenge.request` each). */
export async function takeChallenges(ep: RawClient, n: number): Promise<string[]> {
  const asked = Array.from({ length: n }, () => `c${++refs}`);
  for (const ref of asked) ep.send('challenge.request', undefined, ref);
  return Promise.all(
    asked.map(async (ref) => (await ep.next('challenge', (m) => m.ref === ref)).data.challenge),
  );
}
