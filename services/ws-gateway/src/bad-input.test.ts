import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, RawClient } from './testing/clients';
import { GatewayTestStack, TEST_APP_CREDENTIAL, endpointUrl, neaUrl } from './testing/stack';

describe('bad input on every socket gets a documented error, and other connections are unaffected', () => {
  let stack: GatewayTestStack;
  let gw: RunningGateway;
  let bystander: RawClient;
  before(async () => {
    stack = await GatewayTestStack.start();
    gw = await stack.gateway({
      TAPGATE_GATEWAY_MAX_FRAME_BYTES: '1024',
      TAPGATE_GATEWAY_HANDSHAKE_TIMEOUT_MS: '300',
      TAPGATE_GATEWAY_RATE_LIMIT_PER_SECOND: '20',
      TAPGATE_GATEWAY_RATE_LIMIT_BURST: '20',
      TAPGATE_GATEWAY_FLOOD_CLOSE_AFTER: '100',
    });
    bystander = await neaClient(neaUrl(gw), 'T-BYSTANDER');
  });
  after(async () => {
    bystander.close();
    await stack.stop();
  });

  async function hello(): Promise<RawClient> {
    const c = await RawClient.open(neaUrl(gw));
    c.send('hello', { role: 'nea', terminalId: 'T-X', credential: TEST_APP_CREDENTIAL }, 'h');
    await c.next('welcome');
    return c;
  }

  const cases: Array<[string, string, string]> = [
    ['malformed JSON', '{"v":1,"type":', 'malformed_json'],
    ['a JSON array', '[1,2,3]', 'invalid_envelope'],
    ['a missing type', '{"v":1}', 'invalid_envelope'],
    ['an unknown envelope field', '{"v":1,"type":"ping","extra":1}', 'invalid_envelope'],
    ['a wrong version', '{"v":2,"type":"ping"}', 'unsupported_version'],
    ['an unknown type', '{"v":1,"type":"launch.missiles","ref":"r1"}', 'unknown_type'],
    [
      'a schema violation',
      '{"v":1,"type":"tap","ref":"r2","data":{"tapId":"","kind":"laser"}}',
      'schema_violation',
    ],
    [
      'an endpoint-only message from an NEA client',
      '{"v":1,"type":"challenge.request","ref":"r3"}',
      'unknown_type',
    ],
  ];
  for (const [what, text, code] of cases) {
    it(`answers ${what} with ${code}`, async () => {
      const c = await hello();
      c.sendRaw(text);
      const err = await c.next('error');
      assert.equal(err.data.code, code);
      c.send('ping', undefined, 'still-alive');
      await c.next('pong', (m) => m.ref === 'still-alive');
      c.close();
    });
  }

  it('reports schema violations with the path of each problem and echoes the ref', async () => {
    const c = await RawClient.open(endpointUrl(gw));
    c.sendRaw('{"v":1,"type":"hello","ref":"h1","data":{"role":"endpoint","terminalId":"bad id!"}}');
    const err = await c.next('error');
    assert.equal(err.data.code, 'schema_violation');
    assert.equal(err.ref, 'h1');
    assert.ok(
      err.data.issues?.some((i) => i.path === 'data.terminalId'),
      JSON.stringify(err.data.issues),
    );
    c.close();
  });

  it('rejects binary frames and a second hello', async () => {
    const c = await hello();
    c.sendRaw(Buffer.from([1, 2, 3]));
    assert.equal((await c.next('error')).data.code, 'invalid_envelope');
    c.send('hello', { role: 'nea' }, 'again');
    assert.equal((await c.next('error', (m) => m.ref === 'again')).data.code, 'already_handshaken');
    c.close();
  });

  it('closes with 1009 on a frame over the configured limit', async () => {
    const c = await hello();
    c.sendRaw(JSON.stringify({ v: 1, type: 'ping', ref: 'x'.repeat(2000) }));
    assert.equal((await c.waitClosed()).code, 1009);
  });

  it('closes with 4408 when the handshake never completes', async () => {
    const c = await RawClient.open(neaUrl(gw));
    const closed = await c.waitClosed(4000);
    assert.equal(closed.code, 4408);
  });

  it('drops a flood past the rate limit with one rate_limited error, then closes with 1008', async () => {
    const c = await hello();
    // Over the burst but under the flood threshold: the excess is dropped, the socket stays open.
    for (let i = 0; i < 50; i++) c.send('ping', undefined, `p${i}`);
    assert.equal((await c.next('error')).data.code, 'rate_limited');
    await c.next('pong', (m) => m.ref === 'p0');
    await new Promise((r) => setTimeout(r, 200));
    const pongs = c.frames.filter((f) => f.type === 'pong').length;
    assert.ok(pongs >= 15 && pongs <= 30, `pongs answered within the budget: ${pongs}`);
    assert.equal(c.closed, undefined);
    // A sustained flood is closed as a policy violation.
    for (let i = 0; i < 400; i++) c.send('ping', undefined, `f${i}`);
    assert.equal((await c.waitClosed()).code, 1008);
  });

  it('answers plain HTTP on a socket port with 426, and keeps serving everyone else', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.ports.agent}/`);
    assert.equal(res.status, 426);
    bystander.send('ping', undefined, 'bystander');
    await bystander.next('pong', (m) => m.ref === 'bystander');
    assert.equal(bystander.closed, undefined);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/healthz`)).ok);
  });
});
