import { SoftwareBand } from '@tapgate/band';
import { AgentClient } from '@tapgate/endpoint-node';
import { CloseCode, parseReconnectHint } from '@tapgate/contracts';
import { makeTestPki, waitFor, type TestPki } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { RawClient, neaClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

function tlsEnv(pki: TestPki, prefix: 'AGENT' | 'WEBAPI'): Record<string, string> {
  return {
    [`TAPGATE_${prefix}_PROTOCOL`]: 'wss',
    [`TAPGATE_${prefix}_CACERTFILE`]: pki.ca.certFile,
    [`TAPGATE_${prefix}_CERTFILE`]: pki.server.certFile,
    [`TAPGATE_${prefix}_KEYFILE`]: pki.server.keyFile,
  };
}

async function grantedTap(ep: AgentClient, band: SoftwareBand) {
  return ep.tap({
    kind: 'nfc',
    bandId: band.bandId,
    sign: (c, t) => band.answerTap({ challenge: c, terminalId: t }),
  });
}

describe('wss on both ports, mTLS endpoints, and reconnection after a gateway restart', () => {
  let stack: GatewayTestStack;
  let pki: TestPki;
  let alice: SoftwareBand;
  before(async () => {
    [stack, pki] = await Promise.all([GatewayTestStack.start(), makeTestPki()]);
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    await stack.addTerminal('T-TLS');
  });
  after(async () => {
    await stack.stop();
    pki.dispose();
  });

  it('serves wss on 9120 and 4443 with a test CA, and taps flow over TLS', async () => {
    const gw = await stack.gateway({ ...tlsEnv(pki, 'AGENT'), ...tlsEnv(pki, 'WEBAPI') });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    const ep = new AgentClient({
      url: endpointUrl(gw, 'wss'),
      terminalId: 'T-TLS',
      credential: stack.terminals.get('T-TLS')!.credential,
      ca: pki.ca.cert,
    });
    ep.start();
    await waitFor(() => ep.connected, { what: 'wss endpoint' });
    const neaWebApi = await neaClient(neaUrl(gw, 'webapi', 'wss'), 'T-TLS', { ca: pki.ca.cert });
    const neaAgent = await neaClient(neaUrl(gw, 'agent', 'wss'), 'T-TLS', { ca: pki.ca.cert });
    const r = await grantedTap(ep, alice);
    assert.equal(r.decision.outcome, 'granted');
    assert.equal(r.deliveredTo >= 1, true);
    await neaWebApi.next('tap');
    await neaAgent.next('tap');
    // An untrusted CA fails the TLS handshake; plain ws to a wss port fails too.
    await assert.rejects(neaClient(neaUrl(gw, 'webapi', 'wss'), 'T-TLS'));
    await assert.rejects(neaClient(neaUrl(gw, 'webapi', 'ws'), 'T-TLS'));
    // TLS 1.1 and older are refused.
    const legacy = await new Promise<string>((resolve) => {
      const s = tlsConnect({
        host: '127.0.0.1',
        port: gw.ports.webapi!,
        ca: pki.ca.cert,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
      });
      s.once('secureConnect', () => {
        s.destroy();
        resolve('connected');
      });
      s.once('error', (e: Error) => resolve(e.message));
    });
    assert.notEqual(legacy, 'connected');
    neaWebApi.close();
    neaAgent.close();
    await ep.stop();
  });

  it('authenticates an endpoint by its mTLS client certificate (CN = terminal id) without a credential', async () => {
    // Only a registered, enabled terminal is admitted by its certificate (terminal-access.test.ts has the rest).
    await stack.addTerminal('tapgate-test-client');
    const gw = await stack.gateway({ ...tlsEnv(pki, 'AGENT'), TAPGATE_GATEWAY_ENDPOINT_MTLS: 'true' });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    // AgentClient has no client-cert option (per-terminal credentials are the default); use ws directly.
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(endpointUrl(gw, 'wss'), {
      ca: pki.ca.cert,
      cert: pki.client.cert,
      key: pki.client.key,
    });
    const welcome = await new Promise<string>((resolve, reject) => {
      ws.once('open', () =>
        ws.send(
          JSON.stringify({
            v: 1,
            type: 'hello',
            data: { role: 'endpoint', terminalId: 'tapgate-test-client' },
          }),
        ),
      );
      ws.once('message', (d: Buffer) => resolve(d.toString('utf8')));
      ws.once('error', reject);
    });
    assert.match(welcome, /"type":"welcome"/);
    ws.close();
  });

  it('reconnects an endpoint by itself after its gateway restarts, and taps flow again', async () => {
    const env = { TAPGATE_GATEWAY_GATEWAY_ID: 'gw-restart' };
    const first = await stack.gateway(env);
    const port = first.ports.agent!;
    const ep = new AgentClient({
      url: endpointUrl(first),
      terminalId: 'T-TLS',
      credential: stack.terminals.get('T-TLS')!.credential,
    });
    ep.start();
    await waitFor(() => ep.connected);
    const nea = await neaClient(neaUrl(first), 'T-TLS');
    assert.equal((await grantedTap(ep, alice)).decision.outcome, 'granted');
    nea.close();
    await first.close();
    await waitFor(() => !ep.connected, { what: 'endpoint noticed the restart' });
    const second = await stack.gateway({
      ...env,
      TAPGATE_AGENT_PORT: String(port),
    });
    await waitFor(() => ep.connected, { timeoutMs: 15_000, what: 'endpoint reconnected' });
    const nea2 = await neaClient(neaUrl(second), 'T-TLS');
    const r = await grantedTap(ep, alice);
    assert.equal(r.decision.outcome, 'granted');
    await nea2.next('tap');
    nea2.close();
    await ep.stop();
  });

  it('answers a hello before the registries are loaded with 1013 and a reconnect hint; the endpoint comes back once ready', async () => {
    // NATS down while the gateway starts: it listens, but cannot load its terminal registry.
    await stack.nats.stop();
    const gw = await stack.gateway({}, { waitForRegistries: false });
    const credential = stack.terminals.get('T-TLS')!.credential;
    const ep = new AgentClient({ url: endpointUrl(gw), terminalId: 'T-TLS', credential });
    try {
      assert.equal((await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).status, 503);
      const raw = await RawClient.open(endpointUrl(gw));
      raw.send('hello', { role: 'endpoint', terminalId: 'T-TLS', credential }, 'h');
      assert.equal((await raw.next('error')).data.code, 'unavailable');
      await waitFor(() => raw.closed !== undefined, { what: 'the close' });
      assert.equal(raw.closed!.code, CloseCode.TryAgainLater);
      // A gateway that just started asks to come back within a second (the window grows as it waits).
      const hint = parseReconnectHint(raw.closed!.code, raw.closed!.reason);
      assert.ok(hint !== undefined && hint <= 1000, `hint ${raw.closed!.reason}`);
      const closes: number[] = [];
      ep.on('disconnected', (code: number) => closes.push(code));
      ep.start();
      await waitFor(() => closes.includes(CloseCode.TryAgainLater), { what: 'the endpoint refused (1013)' });
    } finally {
      await stack.nats.start();
    }
    await waitFor(() => ep.connected, {
      timeoutMs: 15_000,
      what: 'the endpoint back once the gateway is ready',
    });
    await ep.stop();
    await gw.close();
  });

  it('reports not ready while NATS is down, and ready again after it returns', async () => {
    const gw = await stack.gateway();
    const ready = async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).status;
    await waitFor(async () => (await ready()) === 200);
    await stack.nats.stop();
    await waitFor(async () => (await ready()) === 503, { what: 'not ready' });
    assert.equal((await fetch(`http://127.0.0.1:${gw.ports.http}/healthz`)).status, 200);
    await stack.nats.start();
    await waitFor(async () => (await ready()) === 200, { timeoutMs: 15_000, what: 'ready again' });
  });
});
