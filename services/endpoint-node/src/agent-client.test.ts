import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeServerFrame } from '@tapgate/contracts';
import { WebSocketServer } from 'ws';
import { AgentClient } from './agent-client';
import { Backoff, type AttemptFailure } from './backoff';

// A gateway stand-in that closes every connection at once with the code and reason a test chose, and
// records when connections arrive: reconnect timing is the client's own logic (the drain of a real
// gateway is tested in services/ws-gateway, drain.test.ts).
describe('AgentClient reconnects after a drain hint', () => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const arrivals: number[] = [];
  let nextClose: { code: number; reason: string } = { code: 1001, reason: '' };
  server.on('connection', (ws) => {
    arrivals.push(Date.now());
    ws.close(nextClose.code, nextClose.reason);
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  async function gapAfter(close: { code: number; reason: string }): Promise<number> {
    const { port } = server.address() as AddressInfo;
    arrivals.length = 0;
    nextClose = close;
    // The backoff is pinned at 1.5 s, so a faster reconnect can only come from the hint.
    const client = new AgentClient({
      url: `ws://127.0.0.1:${port}/socket/websocket`,
      terminalId: 'T-HINT',
      backoff: new Backoff(1500, 1500, () => 1),
    });
    client.start();
    try {
      while (arrivals.length < 2) await once(server, 'connection');
      return arrivals[1] - arrivals[0];
    } finally {
      await client.stop();
    }
  }

  it('waits the hinted delay after 1012', async () => {
    const gap = await gapAfter({ code: 1012, reason: '{"reconnectAfterMs":150}' });
    assert.ok(gap >= 140 && gap < 1000, `reconnected after ${gap} ms`);
  });

  it('waits the hinted delay after 1013 (gateway not ready yet)', async () => {
    const gap = await gapAfter({ code: 1013, reason: '{"reconnectAfterMs":150}' });
    assert.ok(gap >= 140 && gap < 1000, `reconnected after ${gap} ms`);
  });

  it('uses its backoff for a bad hint, and for 1001 whatever its reason', async () => {
    for (const close of [
      { code: 1012, reason: '{"reconnectAfterMs":-150}' },
      { code: 1012, reason: 'service restart' },
      { code: 1001, reason: '{"reconnectAfterMs":150}' },
    ]) {
      const gap = await gapAfter(close);
      assert.ok(gap >= 1400, `${close.code} ${close.reason}: reconnected after ${gap} ms`);
    }
  });
});

// A gateway stand-in that welcomes the endpoint with short heartbeats and answers its pings until told to
// fall silent without closing (as a gateway cut off from the network looks from the endpoint's side).
describe('AgentClient gives up on a silent gateway', () => {
  const HEARTBEAT_MS = 200;
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const arrivals: number[] = [];
  let silent = false;
  server.on('connection', (ws) => {
    arrivals.push(Date.now());
    ws.on('message', (data: Buffer) => {
      if (silent) return;
      const frame = JSON.parse(data.toString('utf8')) as { type: string; ref?: string };
      if (frame.type === 'hello') {
        ws.send(
          encodeServerFrame(
            'welcome',
            { sessionId: 's', protocol: 1, heartbeatIntervalMs: HEARTBEAT_MS, maxFrameBytes: 65536 },
            frame.ref,
          ),
        );
      } else if (frame.type === 'ping') {
        ws.send(encodeServerFrame('pong', undefined, frame.ref));
      }
    });
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  function connectedClient(): AgentClient {
    const { port } = server.address() as AddressInfo;
    return new AgentClient({
      url: `ws://127.0.0.1:${port}/socket/websocket`,
      terminalId: 'T-SILENT',
      backoff: new Backoff(50, 50, () => 1),
    });
  }

  it('stays connected while the gateway answers', async () => {
    silent = false;
    arrivals.length = 0;
    const client = connectedClient();
    client.start();
    try {
      await once(client, 'connected');
      await sleep(HEARTBEAT_MS * 6);
      assert.equal(client.connected, true);
      assert.equal(arrivals.length, 1, 'no reconnect while pongs arrive');
    } finally {
      await client.stop();
    }
  });

  it('terminates the socket after 2.5 silent intervals and reconnects', async () => {
    silent = false;
    arrivals.length = 0;
    const client = connectedClient();
    client.start();
    try {
      await once(client, 'connected');
      silent = true;
      const since = Date.now();
      await once(client, 'disconnected');
      const noticedMs = Date.now() - since;
      assert.ok(
        noticedMs >= HEARTBEAT_MS * 2 && noticedMs < HEARTBEAT_MS * 5,
        `noticed the silence after ${noticedMs} ms`,
      );
      assert.equal(client.connected, false);
      silent = false;
      await once(client, 'connected');
      assert.equal(arrivals.length, 2, 'reconnected once');
    } finally {
      await client.stop();
    }
  });
});

// The backoff is told how each attempt failed: a refusal (nothing listening) keeps its retries quick
// early in an outage (backoff.test.ts), anything that reached a server does not.
describe('AgentClient tells its backoff how an attempt failed', () => {
  class RecordingBackoff extends Backoff {
    readonly failures: AttemptFailure[] = [];
    constructor() {
      super(20, 20, () => 1);
    }
    override next(failure: AttemptFailure = 'other'): number {
      this.failures.push(failure);
      return super.next(failure);
    }
  }

  async function failuresAgainst(port: number): Promise<AttemptFailure[]> {
    const backoff = new RecordingBackoff();
    const client = new AgentClient({
      url: `ws://127.0.0.1:${port}/socket/websocket`,
      terminalId: 'T-B',
      backoff,
    });
    client.start();
    try {
      while (backoff.failures.length < 2) await once(client, 'disconnected');
      return backoff.failures;
    } finally {
      await client.stop();
    }
  }

  it('refused: nothing listens on the port', async () => {
    const probe = createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    assert.deepEqual((await failuresAgainst(port)).slice(0, 2), ['refused', 'refused']);
  });

  it('other: a server accepted the connection and closed it', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (ws) => ws.close(1011, 'unexpected'));
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      assert.deepEqual((await failuresAgainst(port)).slice(0, 2), ['other', 'other']);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
