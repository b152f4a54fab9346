import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { AgentClient } from '@tapgate/endpoint-node';
import { startTelemetry } from '@tapgate/telemetry';
import { waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { neaClient } from './testing/clients';
import { GatewayTestStack, endpointUrl, neaUrl, serveUserStatuses } from './testing/stack';

const spans = new InMemorySpanExporter();
startTelemetry({ serviceName: 'ws-gateway-test', spanProcessors: [new SimpleSpanProcessor(spans)] });

describe('telemetry: one tap is one trace across replicas, and the gateway exports its metrics', () => {
  let stack: GatewayTestStack;
  before(async () => {
    stack = await GatewayTestStack.start();
  });
  after(async () => {
    await stack.stop();
  });

  it('carries the trace context of a tap through user-status and to the delivering replica', async () => {
    serveUserStatuses(stack.admin, { alice: 'active' });
    const alice = await stack.enroll('alice');
    alice.clasp();
    alice.authenticate();
    await stack.addTerminal('T-OBS');
    const [gwA, gwB] = await Promise.all([stack.gateway(), stack.gateway()]);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${gwA.ports.http}/readyz`)).ok);
    const ep = new AgentClient({
      url: endpointUrl(gwA),
      terminalId: 'T-OBS',
      credential: stack.terminals.get('T-OBS')!.credential,
    });
    ep.start();
    await waitFor(() => ep.connected);
    const nea = await neaClient(neaUrl(gwB), 'T-OBS');
    const result = await ep.tap({
      kind: 'nfc',
      bandId: alice.bandId,
      sign: (c, t) => alice.answerTap({ challenge: c, terminalId: t }),
    });
    assert.equal(result.decision.outcome, 'granted');
    await nea.next('tap');

    const tapSpan = spans.getFinishedSpans().find((s) => s.name === 'tap');
    assert.ok(tapSpan, 'a tap span');
    const traceId = tapSpan.spanContext().traceId;
    const sameTrace = spans
      .getFinishedSpans()
      .filter((s) => s.spanContext().traceId === traceId)
      .map((s) => s.name);
    assert.ok(
      sameTrace.some((n) => n.startsWith('tapgate.v1.userstatus.get')),
      sameTrace.join(', '),
    );
    assert.ok(
      sameTrace.some((n) => n.startsWith('tapgate.v1.tap.deliver')),
      sameTrace.join(', '),
    );

    const metrics = await (await fetch(`http://127.0.0.1:${gwA.ports.http}/metrics`)).text();
    assert.match(metrics, /tapgate_tap_latency_bucket\{[^}]*outcome="granted"/);
    assert.match(metrics, /tapgate_taps_total\{[^}]*outcome="granted"[^}]*\} 1/);
    assert.match(metrics, /tapgate_connections_open\{kind="endpoint"\} 1/);
    const metricsB = await (await fetch(`http://127.0.0.1:${gwB.ports.http}/metrics`)).text();
    assert.match(metricsB, /tapgate_connections_open\{kind="nea"\} 1/);
    nea.close();
    await ep.stop();
  });
});
