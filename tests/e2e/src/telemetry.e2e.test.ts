import type { AgentClient } from '@tapgate/endpoint-node';
import { Platform, freePort, waitFor } from '@tapgate/testing';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectTerminal, enrollBand, Nea, tap } from './harness';

/** One span as OTLP/JSON carries it, with the service.name of its resource. */
interface ReceivedSpan {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  attributes: Record<string, unknown>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}

function attributes(list: OtlpKeyValue[] | undefined): Record<string, unknown> {
  return Object.fromEntries(
    (list ?? []).map((a) => [
      a.key,
      a.value.stringValue ?? a.value.intValue ?? a.value.boolValue ?? a.value.doubleValue,
    ]),
  );
}

/**
 * An OTLP/HTTP receiver as a collector would be (http/json, the encoding the OTLP specification defines
 * for HTTP besides protobuf): it answers 200 to POST /v1/traces and /v1/metrics and keeps what came.
 */
class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly resources: Record<string, unknown>[] = [];
  readonly metricNames = new Set<string>();
  readonly headers: IncomingHttpHeaders[] = [];
  readonly contentTypes = new Set<string>();
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const port = await freePort();
    const server = createServer();
    const receiver = new OtlpReceiver(server, port);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        receiver.headers.push(req.headers);
        receiver.contentTypes.add(req.headers['content-type'] ?? '');
        try {
          receiver.take(
            req.url ?? '',
            JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
          );
          res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        } catch (e) {
          res.writeHead(400).end(String(e));
        }
      });
    });
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return receiver;
  }

  private take(path: string, body: Record<string, unknown>): void {
    if (path === '/v1/traces') {
      for (const rs of body.resourceSpans as {
        resource: { attributes: OtlpKeyValue[] };
        scopeSpans: {
          spans: (Omit<ReceivedSpan, 'attributes' | 'service'> & { attributes: OtlpKeyValue[] })[];
        }[];
      }[]) {
        const resource = attributes(rs.resource.attributes);
        this.resources.push(resource);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            this.spans.push({
              service: String(resource['service.name']),
              name: s.name,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              attributes: attributes(s.attributes),
            });
          }
        }
      }
    } else if (path === '/v1/metrics') {
      for (const rm of body.resourceMetrics as { scopeMetrics: { metrics: { name: string }[] }[] }[]) {
        for (const sm of rm.scopeMetrics) for (const m of sm.metrics) this.metricNames.add(m.name);
      }
    } else {
      throw new Error(`unexpected path ${path}`);
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('OpenTelemetry from the standard OTEL_* variables: a tap is one trace at an OTLP/HTTP receiver', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-otlp-'));
  // Stands for a collector's API key: it must reach the receiver and never a log line.
  const secret = `otlp-key-${Math.random().toString(36).slice(2)}`;
  let receiver: OtlpReceiver;
  let platform: Platform;
  let ep: AgentClient | undefined;
  let nea: Nea | undefined;
  before(async () => {
    receiver = await OtlpReceiver.start();
    platform = await Platform.start({
      dir,
      logLevel: 'info',
      users: [{ sAMAccountName: 'alice', displayName: 'Alice Able', state: 'active' }],
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: `x-otlp-key=${secret}`,
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=otlp-test',
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
      },
    });
  });
  after(async () => {
    nea?.close();
    await ep?.stop();
    await platform?.stop();
    await receiver?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports the gateway, presence and user-status spans of one tap in one trace, with the headers and resource asked for', async () => {
    const endpoint = (ep = await connectTerminal(platform, 'OTLP-T1'));
    nea = await Nea.open(platform, 'OTLP-T1');
    const alice = await enrollBand(platform, 'alice');
    endpoint.adverts([alice.advert(-60)]);
    await waitFor(async () => (await tap(endpoint, alice)).decision.outcome === 'granted', {
      what: 'a granted tap',
    });
    await nea.tapFor(alice.bandId);

    // The granted tap's root span, from the gateway; the services export on their own schedules.
    const grantedTap = await waitFor(
      () =>
        receiver.spans.find(
          (s) =>
            s.service === 'ws-gateway' && s.name === 'tap' && s.attributes['tapgate.outcome'] === 'granted',
        ),
      { what: 'the granted tap span at the receiver', timeoutMs: 20_000 },
    );
    assert.equal(grantedTap.parentSpanId, '', 'the tap span is the root of its trace');
    assert.match(grantedTap.traceId, /^[0-9a-f]{32}$/);
    const expected: [service: string, span: string][] = [
      ['ws-gateway', 'tap'],
      ['ws-gateway', 'tapgate.v1.tap.deliver.'],
      ['presence', 'tapgate.v1.presence.get process'],
      ['user-status', 'tapgate.v1.userstatus.get process'],
      ['user-status', 'userstatus.get'],
    ];
    const inTrace = () => receiver.spans.filter((s) => s.traceId === grantedTap.traceId);
    await waitFor(
      () =>
        expected.every(([service, name]) =>
          inTrace().some((s) => s.service === service && s.name.startsWith(name)),
        ),
      {
        what: `spans ${JSON.stringify(expected)} in trace ${grantedTap.traceId}`,
        timeoutMs: 20_000,
      },
    ).catch((e: unknown) => {
      throw new Error(
        `${(e as Error).message}; got ${inTrace()
          .map((s) => `${s.service}:${s.name}`)
          .join(', ')}`,
      );
    });
    // Every span but the root hangs from a span of the same trace: the context crossed NATS intact.
    const ids = new Set(inTrace().map((s) => s.spanId));
    for (const s of inTrace()) {
      if (s !== grantedTap) {
        assert.ok(ids.has(s.parentSpanId), `${s.service}:${s.name} has its parent in the trace`);
      }
    }
    // presence reads Redis for the band inside the tap: the ioredis instrumentation's span is in the trace.
    assert.ok(
      inTrace().some(
        (s) =>
          s.service === 'presence' &&
          (s.attributes['db.system'] ?? s.attributes['db.system.name']) === 'redis',
      ),
      inTrace()
        .map((s) => `${s.service}:${s.name}`)
        .join(', '),
    );

    // OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS were honoured, over http/json.
    assert.ok(receiver.resources.every((r) => r['deployment.environment.name'] === 'otlp-test'));
    assert.deepEqual(
      new Set(receiver.resources.map((r) => r['service.name'])),
      new Set(['ws-gateway', 'presence', 'user-status', 'policy']),
    );
    assert.ok(receiver.headers.every((h) => h['x-otlp-key'] === secret));
    assert.deepEqual([...receiver.contentTypes], ['application/json']);
    await waitFor(() => receiver.metricNames.has('tapgate.taps'), { what: 'tapgate.taps pushed over OTLP' });

    // The Prometheus endpoint still serves the same instruments.
    const scraped = await (await fetch(`http://127.0.0.1:${platform.ports.gatewayHttp}/metrics`)).text();
    assert.match(scraped, /tapgate_taps_total\{[^}]*outcome="granted"/);

    // The header's value (a secret) is in no service's log.
    for (const f of readdirSync(join(dir, 'logs'))) {
      assert.ok(!readFileSync(join(dir, 'logs', f), 'utf8').includes(secret), `${f} leaks the OTLP header`);
    }
  });
});
