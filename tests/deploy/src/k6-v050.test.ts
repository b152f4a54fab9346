// The k6 scripts under k6 v0.50.0's behaviour (issue 13 §5), emulated by the stand-ins: readyState is an
// object only loosely equal to 1 and there is no global `crypto`, so WebCrypto must come from
// k6/experimental/webcrypto. The terminals must still send, sign and get every tap granted.
import { strict as assert } from 'node:assert';
import { webcrypto } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { importRepoModule, useK6StandIns } from './k6-stand-ins';
import { describeK6TerminalsAgainstPlatform } from './k6-terminals';

// Before any k6/ module is evaluated: protocol.js picks its WebCrypto at init, as in k6.
useK6StandIns('v0.50');

describe('k6 v0.50 stand-ins', () => {
  let protocol: { webCrypto: unknown };
  let ws: { WebSocket: typeof WebSocket };
  before(async () => {
    protocol = await importRepoModule('k6/lib/protocol.js');
    ws = await importRepoModule('tests/deploy/k6-stand-ins/websockets-v050.mjs');
  });

  it('have no global crypto, so protocol.js takes WebCrypto from k6/experimental/webcrypto', () => {
    assert.equal(typeof (globalThis as { crypto?: unknown }).crypto, 'undefined');
    assert.equal(protocol.webCrypto, webcrypto);
  });

  it('hand out readyState as k6 v0.50 does: an object, loosely but not strictly 1 when open', async () => {
    const { createServer } = await import('node:http');
    const { WebSocketServer } = await import('ws');
    const server = createServer();
    const wss = new WebSocketServer({ server });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const socket = new ws.WebSocket(`ws://127.0.0.1:${(server.address() as { port: number }).port}`);
    await new Promise((r) => (socket.onopen = r));
    const state: unknown = socket.readyState;
    assert.equal(typeof state, 'object');
    assert.ok(state !== 1 && Number(state) === 1);
    socket.close();
    wss.close();
    server.close();
  });
});

describeK6TerminalsAgainstPlatform('v0.50');
