/**
 * Idle endpoint sockets for the many-connections phase, run as a child process of the bench (each
 * process has its own open-file limit, so the bench's own process stays below it): bare `ws` clients that
 * send a valid endpoint `hello` and then only the heartbeats the gateway asks for in `welcome`.
 *
 * Protocol with the parent (IPC): it sends one IdleEndpointsJob; the child answers one IdleEndpointsReady
 * when every socket is connected or failed, and keeps them open until it is disconnected or killed.
 */
import { decodeServerFrame, encodeClientFrame } from '@tapgate/contracts';
import WebSocket from 'ws';

export interface IdleEndpointsJob {
  url: string;
  /** Source address, so that many sockets do not run out of ephemeral ports of one address. */
  localAddress: string;
  terminals: Array<{ terminalId: string; credential: string }>;
}

export interface IdleEndpointsReady {
  connected: number;
  failed: number;
  /** The first failure's reason (never a credential). */
  firstError?: string;
}

/** The heartbeat interval the gateway asked for in `welcome` (the same for every socket). */
let heartbeatIntervalMs = 15_000;

function connectOne(
  job: IdleEndpointsJob,
  t: { terminalId: string; credential: string },
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(job.url, { perMessageDeflate: false, localAddress: job.localAddress });
    const fail = (why: string) => {
      ws.terminate();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail('no welcome within 30 s'), 30_000);
    ws.once('open', () =>
      ws.send(
        encodeClientFrame('hello', {
          role: 'endpoint',
          terminalId: t.terminalId,
          credential: t.credential,
          capabilities: ['nfc'],
        }),
      ),
    );
    ws.on('message', (d: Buffer) => {
      const m = decodeServerFrame(d.toString('utf8'));
      if (m instanceof Error) return;
      if (m.type === 'welcome') {
        clearTimeout(timer);
        heartbeatIntervalMs = m.data.heartbeatIntervalMs;
        resolve(ws);
      } else if (m.type === 'error') {
        clearTimeout(timer);
        fail(`refused: ${m.data.code}`);
      }
    });
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed ${code}`));
    });
  });
}

async function run(job: IdleEndpointsJob): Promise<void> {
  const open: WebSocket[] = [];
  let failed = 0;
  let firstError: string | undefined;
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < job.terminals.length) {
        const t = job.terminals[next++];
        try {
          open.push(await connectOne(job, t));
        } catch (e) {
          failed++;
          firstError ??= (e as Error).message;
        }
      }
    }),
  );
  // Heartbeats as real terminals send them (every interval of `welcome`), spread evenly over the interval
  // as independent terminals would be, not in one burst.
  const slice = Math.max(1, Math.ceil(open.length / (heartbeatIntervalMs / 100)));
  let cursor = 0;
  setInterval(() => {
    for (let k = 0; k < slice && open.length > 0; k++) {
      const ws = open[cursor++ % open.length];
      if (ws.readyState === WebSocket.OPEN) ws.send(encodeClientFrame('ping', undefined));
    }
  }, 100);
  const ready: IdleEndpointsReady = { connected: open.length, failed, firstError };
  process.send?.(ready);
}

process.once('message', (job: IdleEndpointsJob) => void run(job));
process.once('disconnect', () => process.exit(0));
