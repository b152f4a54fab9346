/**
 * The floor: the least a tap can cost on this machine, measured in the same run as the pipeline.
 * Route: ws client A -> bare ws server -> NATS request/reply (responder in another process) ->
 * NATS publish -> the same server -> ws client B. Also the two parts alone: a bare ws echo and a bare
 * NATS request/reply, one message in flight at a time.
 *
 * Run as a child process: `node floor.js server <natsUrl> <port>` or `node floor.js responder <natsUrl>`.
 */
import { connect, type NatsConnection } from 'nats';
import { WebSocketServer, type WebSocket } from 'ws';

async function server(natsUrl: string, port: number): Promise<void> {
  const nc = await connect({ servers: natsUrl, name: 'floor-server' });
  const sinks = new Map<string, WebSocket>();
  nc.subscribe('floor.deliver.*', {
    callback: (_e, m) => {
      const key = m.subject.slice('floor.deliver.'.length);
      sinks.get(key)?.send(m.data);
    },
  });
  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });
  wss.on('connection', (ws, req) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const key = url.searchParams.get('k') ?? '';
    if (url.pathname === '/sink') {
      sinks.set(key, ws);
      ws.on('close', () => sinks.delete(key));
      return;
    }
    if (url.pathname === '/echo') {
      ws.on('message', (d) => ws.send(d));
      return;
    }
    ws.on('message', (d) => {
      void nc
        .request('floor.req', d as Buffer, { timeout: 2000 })
        .then((reply) => nc.publish(`floor.deliver.${key}`, reply.data))
        .catch(() => undefined);
    });
  });
  wss.once('listening', () => process.send?.('ready'));
}

async function responder(natsUrl: string): Promise<void> {
  const nc: NatsConnection = await connect({ servers: natsUrl, name: 'floor-responder' });
  nc.subscribe('floor.req', { callback: (_e, m) => m.respond(m.data) });
  await nc.flush();
  process.send?.('ready');
}

const [role, natsUrl, port] = process.argv.slice(2);
if (role === 'server') void server(natsUrl, Number(port));
else if (role === 'responder') void responder(natsUrl);
