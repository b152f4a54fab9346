import { SoftwareBand } from '@tapgate/band';
import { CloseCode } from '@tapgate/contracts';
import { AgentClient } from '@tapgate/endpoint-node';
import { startPolicy, type PolicyHarness } from '@tapgate/policy';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RunningGateway } from './bootstrap';
import { neaClient, type RawClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

/**
 * The console's "Disable" as an administrator uses it: the real policy API writes the record, two gateway
 * replicas watch it. The endpoint is on one replica, the application (NEA) on the other.
 */
describe('disabling a terminal in the policy API cuts its endpoint off on every replica', () => {
  let stack: GatewayTestStack;
  let policy: PolicyHarness;
  let gwA: RunningGateway;
  let gwB: RunningGateway;
  let alice: SoftwareBand;

  before(async () => {
    stack = await GatewayTestStack.start();
    policy = await startPolicy(stack.nats.url);
    serveUserStatuses(stack.admin, { alice: 'active' });
    alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    [gwA, gwB] = await Promise.all([stack.gateway(), stack.gateway()]);
    for (const gw of [gwA, gwB]) {
      await waitFor(async () => (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).ok);
    }
  });
  after(async () => {
    await policy?.close();
    await stack.stop();
  });

  it('closes the endpoint socket (4003) within 1 s of the API answer, refuses its reconnects and its taps, and the API shows it offline', async () => {
    const created = await policy.api('POST', '/v1/terminals', { body: { terminalId: 'DEMO-T1' } });
    assert.equal(created.status, 201);
    const ep = new AgentClient({
      url: endpointUrl(gwA),
      terminalId: 'DEMO-T1',
      credential: (created.body as unknown as { credential: string }).credential,
    });
    const closes: Array<{ code: number; at: number }> = [];
    const refusals: number[] = [];
    ep.on('disconnected', (code: number) => closes.push({ code, at: performance.now() }));
    ep.on('unauthorized', () => refusals.push(performance.now()));
    ep.start();
    await waitFor(() => ep.connected, { what: 'endpoint connected' });
    const nea: RawClient = await neaClient(neaUrl(gwB), 'DEMO-T1');
    const tap = () =>
      ep.tap({
        kind: 'nfc',
        bandId: alice.bandId,
        sign: (c, t) => alice.answerTap({ challenge: c, terminalId: t }),
      });
    assert.equal((await tap()).decision.outcome, 'granted');
    await nea.next('tap');
    await waitFor(
      async () => {
        const t = await policy.api('GET', '/v1/terminals/DEMO-T1');
        return t.status === 200;
      },
      { what: 'terminal visible' },
    );

    const started = performance.now();
    const disabled = await policy.api('POST', '/v1/terminals/DEMO-T1/disable');
    assert.equal(disabled.status, 200);
    await waitFor(() => closes.length > 0, { timeoutMs: 1000, intervalMs: 5, what: 'socket closed' });
    const ms = closes[0].at - started;
    console.log(`policy API disable -> endpoint socket closed: ${ms.toFixed(0)} ms (code ${closes[0].code})`);
    assert.equal(closes[0].code, CloseCode.Revoked);
    assert.ok(ms < 1000);

    // A tap now is not possible: the endpoint is not connected, and its own reconnect is refused.
    await assert.rejects(tap());
    await waitFor(() => refusals.length > 0 && closes.some((c) => c.code === CloseCode.Unauthorized), {
      timeoutMs: 15_000,
      what: 'reconnect refused with 4001',
    });
    assert.equal(ep.connected, false);
    const framesBefore = nea.frames.length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(
      nea.frames.slice(framesBefore).some((f) => f.type === 'tap'),
      false,
      'no tap reaches the application after the disable',
    );
    // The console reads the terminal list: the terminal is disabled and offline, not "online since".
    await waitFor(
      async () => {
        const list = await policy.api('GET', '/v1/terminals');
        const t = (
          list.body as unknown as {
            items: Array<{
              terminalId: string;
              enabled: boolean;
              activity?: { connection?: { state: string } };
            }>;
          }
        ).items.find((i) => i.terminalId === 'DEMO-T1');
        return t?.enabled === false && t.activity?.connection?.state === 'offline';
      },
      { what: 'API shows the terminal disabled and offline' },
    );
    nea.close();
    await ep.stop();
  });
});
