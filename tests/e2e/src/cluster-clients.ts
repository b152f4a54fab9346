import { decodeServerFrame, encodeClientFrame, type ServerMessage } from '@tapgate/contracts';
import WebSocket from 'ws';

type LoginResult = Extract<ServerMessage, { type: 'login.result' }>['data'];

/** An NEA client bound to one terminal that asks for one login at a time. */
export class NeaSocket {
  private readonly frames: ServerMessage[] = [];
  private waiters: Array<() => void> = [];
  private closedWith: string | undefined;
  private refs = 0;

  private constructor(
    private readonly ws: WebSocket,
    onClose?: () => void,
  ) {
    ws.on('error', () => undefined);
    ws.on('message', (d: Buffer) => {
      const m = decodeServerFrame(d.toString('utf8'));
      if (!(m instanceof Error)) this.frames.push(m);
      this.wake();
    });
    ws.on('close', (code) => {
      this.closedWith = `NEA socket closed (${code})`;
      this.wake();
      onClose?.();
    });
  }

  /** Opens a socket and says hello; `onClose` is called once the socket closes (for whatever reason). */
  static async open(
    url: string,
    terminalId: string,
    credential: string,
    onClose?: () => void,
  ): Promise<NeaSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const nea = new NeaSocket(ws, onClose);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('NEA socket closed before it opened')));
    });
    ws.send(encodeClientFrame('hello', { role: 'nea', terminalId, credential }, 'h'));
    await nea.next((m) => m.type === 'welcome', 5_000);
    return nea;
  }

  /** True once the socket closed (a drain's 1012, a lost gateway, close()). */
  get closed(): boolean {
    return this.closedWith !== undefined;
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
