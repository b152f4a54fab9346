import { metrics, type Meter, trace, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter as OTLPMetricExporterGrpc } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OTLPMetricExporterJson } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OTLPMetricExporterProto } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { NestInstrumentation } from '@opentelemetry/instrumentation-nestjs-core';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  ConsoleMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLogger } from './logger';

export interface TelemetryOptions {
  /** service.name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) says otherwise. */
  serviceName: string;
  /**
   * [telemetry].otlp_endpoint: the OTLP base URL (e.g. http://otel-collector:4318). It is written to
   * OTEL_EXPORTER_OTLP_ENDPOINT, so the per-signal OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT still win.
   */
  otlpEndpoint?: string;
  /** [telemetry].metrics_interval_ms: the OTLP metrics push interval unless OTEL_METRIC_EXPORT_INTERVAL is set. */
  metricsIntervalMs?: number;
  /**
   * Span processors that replace the OTEL_TRACES_EXPORTER exporters (tests use an in-memory exporter to
   * follow one tap across services in one process).
   */
  spanProcessors?: SpanProcessor[];
}

/** Paths every scraper and probe calls every few seconds: tracing them would only bury the taps. */
const UNTRACED_PATHS = new Set(['/metrics', '/healthz', '/readyz']);

interface Started {
  sdk?: NodeSDK;
  /** Only when OTEL_SDK_DISABLED: the provider that keeps /metrics serving. */
  meterProvider?: MeterProvider;
  prometheus: PrometheusExporter;
}

let started: Started | undefined;

/** OTEL_* list variables are comma-separated, case-insensitive, blanks ignored (the spec's reading). */
function envList(name: string): string[] {
  return (process.env[name] ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s !== '');
}

function envSet(name: string): boolean {
  return (process.env[name] ?? '').trim() !== '';
}

const KNOWN_EXPORTERS = { TRACES: ['otlp', 'zipkin', 'console'], METRICS: ['otlp', 'prometheus', 'console'] };
const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'];

/** A value of an OTEL_* variable Tapgate cannot honour: the process exits 2 (like a bad config file). */
class OtelEnvError extends Error {}

/**
 * A signal's exporters as OTEL_<SIGNAL>_EXPORTER names them. Unset, the spec's default is "otlp"; Tapgate
 * takes "otlp" only when an OTLP endpoint is configured for the signal, else "none", so a plain install
 * neither dials localhost:4318 nor pays for spans nobody collects.
 */
function exportersFor(signal: 'TRACES' | 'METRICS'): string[] {
  const named = envList(`OTEL_${signal}_EXPORTER`);
  for (const name of named) {
    if (name !== 'none' && !KNOWN_EXPORTERS[signal].includes(name)) {
      throw new OtelEnvError(
        `OTEL_${signal}_EXPORTER "${name}" is not one of ${[...KNOWN_EXPORTERS[signal], 'none'].join(', ')}`,
      );
    }
  }
  if (named.length > 0) return [...new Set(named.filter((n) => n !== 'none'))];
  return envSet('OTEL_EXPORTER_OTLP_ENDPOINT') || envSet(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`)
    ? ['otlp']
    : [];
}

/** OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else the spec's http/protobuf. */
function protocolFor(signal: 'TRACES' | 'METRICS'): string {
  const variable = envSet(`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`)
    ? `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = (process.env[variable] ?? '').trim() || 'http/protobuf';
  if (!OTLP_PROTOCOLS.includes(protocol)) {
    throw new OtelEnvError(`${variable} "${protocol}" is not one of ${OTLP_PROTOCOLS.join(', ')}`);
  }
  return protocol;
}

function otlpMetricExporter(): PushMetricExporter {
  // Each exporter reads its endpoint, headers, timeout, compression and TLS from the OTEL_* variables.
  switch (protocolFor('METRICS')) {
    case 'grpc':
      return new OTLPMetricExporterGrpc();
    case 'http/json':
      return new OTLPMetricExporterJson();
    default:
      return new OTLPMetricExporterProto();
  }
}

/**
 * The metric readers: always the Prometheus one behind GET /metrics (dashboards and alerts scrape it),
 * plus a periodic push for each OTEL_METRICS_EXPORTER ("prometheus" is that same /metrics endpoint: the
 * SDK's own Prometheus server on port 9464 is not started).
 */
function metricReaders(prometheus: PrometheusExporter, intervalMs: number | undefined): MetricReader[] {
  const readers: MetricReader[] = [prometheus];
  const interval = Number(process.env.OTEL_METRIC_EXPORT_INTERVAL) || intervalMs || 60_000;
  const timeout = Math.min(Number(process.env.OTEL_METRIC_EXPORT_TIMEOUT) || 30_000, interval);
  for (const name of exportersFor('METRICS')) {
    const exporter =
      name === 'otlp' ? otlpMetricExporter() : name === 'console' ? new ConsoleMetricExporter() : undefined;
    // "prometheus" has no reader of its own: it is the /metrics reader above.
    if (exporter) {
      readers.push(
        new PeriodicExportingMetricReader({
          exporter,
          exportIntervalMillis: interval,
          exportTimeoutMillis: timeout,
        }),
      );
    }
  }
  return readers;
}

/** An endpoint URL fit for a log line: no user-info, query or fragment (they may carry credentials). */
function redactedUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(not a URL)';
  }
}

/**
 * Starts OpenTelemetry with @opentelemetry/sdk-node, configured by the standard OTEL_* environment
 * variables (docs/configuration.md, "OpenTelemetry environment variables"). Call it in every main before
 * the service's own modules are loaded: the http, ioredis and Nest instrumentations patch those modules
 * as they are required, and instruments and spans must be made against the real providers.
 *
 * With no traces exporter (the default without an OTLP endpoint) no tracer provider is registered: the
 * hand-made spans are the API's no-op spans and no instrumentation is loaded, so a tap costs nothing for
 * tracing; a traceparent that arrives is still passed on across NATS. Metrics are always served as
 * Prometheus text by `metricsHandler`, even with OTEL_SDK_DISABLED. Throws on an OTEL_* value it cannot
 * honour (a main turns that into a start-up error).
 */
export function startTelemetry(opts: TelemetryOptions): void {
  if (started) return;
  try {
    started = startSdk(opts);
  } catch (e) {
    if (!(e instanceof OtelEnvError)) throw e;
    process.stderr.write(`config error: ${e.message}\n`);
    process.exit(2);
  }
}

function startSdk(opts: TelemetryOptions): Started {
  // The config file's [telemetry] values are defaults for the standard variables the SDK reads.
  if (opts.otlpEndpoint && !envSet('OTEL_EXPORTER_OTLP_ENDPOINT')) {
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = opts.otlpEndpoint;
  }
  const prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  // Lowest precedence: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the SDK's env detector) win.
  const resource = defaultResource().merge(
    resourceFromAttributes({
      [ATTR_SERVICE_NAME]: opts.serviceName,
      [ATTR_SERVICE_VERSION]: process.env.npm_package_version ?? '0.1.0',
    }),
  );
  if (/^true$/i.test((process.env.OTEL_SDK_DISABLED ?? '').trim())) {
    const meterProvider = new MeterProvider({ resource, readers: [prometheus] });
    metrics.setGlobalMeterProvider(meterProvider);
    return { meterProvider, prometheus };
  }
  const traceExporters = exportersFor('TRACES');
  if (traceExporters.includes('otlp')) protocolFor('TRACES');
  const readers = metricReaders(prometheus, opts.metricsIntervalMs);
  const tracing = opts.spanProcessors !== undefined || traceExporters.length > 0;
  // The SDK reads an unset OTEL_TRACES_EXPORTER as "otlp": write down the decision it must follow.
  if (!tracing) process.env.OTEL_TRACES_EXPORTER = 'none';
  const sdk = new NodeSDK({
    resource,
    metricReaders: readers,
    ...(opts.spanProcessors ? { spanProcessors: opts.spanProcessors } : {}),
    // Logs stay pino JSON lines on stdout (they carry trace_id/span_id); no OTLP log pipeline.
    logRecordProcessors: [],
    instrumentations: tracing
      ? [
          new HttpInstrumentation({
            ignoreIncomingRequestHook: (req) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
            // Outgoing calls are traced inside a trace only (not the SDK's own exports and polls).
            requireParentforOutgoingSpans: true,
          }),
          // Only the command name: arguments hold user names, band ids and, for AUTH, the password.
          new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: (cmd) => cmd }),
          new NestInstrumentation(),
        ]
      : [],
  });
  sdk.start();
  // Never the headers (OTEL_EXPORTER_OTLP_*HEADERS hold API keys); the endpoint without credentials.
  createLogger('telemetry').info(
    {
      traces: opts.spanProcessors ? 'in-process' : traceExporters.join(',') || 'none',
      metrics: ['prometheus', ...exportersFor('METRICS')].join(','),
      endpoint: redactedUrl(process.env.OTEL_EXPORTER_OTLP_ENDPOINT),
      sampler: process.env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on',
    },
    'OpenTelemetry started',
  );
  return { sdk, prometheus };
}

/** Whether startTelemetry ran in this process. */
export function telemetryStarted(): boolean {
  return started !== undefined;
}

/** Flushes and stops the providers (graceful shutdown). */
export async function stopTelemetry(): Promise<void> {
  if (!started) return;
  const s = started;
  started = undefined;
  await Promise.allSettled([s.sdk?.shutdown(), s.meterProvider?.shutdown()]);
}

/**
 * The Tapgate tracer. Spans made before startTelemetry are non-recording, so create them at call
 * time, not at import time.
 */
export function getTracer(): Tracer {
  return trace.getTracer('tapgate');
}

/** The Tapgate meter. Create instruments in constructors (after startTelemetry), not at import time. */
export function getMeter(): Meter {
  return metrics.getMeter('tapgate');
}

/** Serves GET /metrics in Prometheus text format. */
export function metricsHandler(req: IncomingMessage, res: ServerResponse): void {
  if (!started) {
    res.statusCode = 503;
    res.end('telemetry not started\n');
    return;
  }
  started.prometheus.getMetricsRequestHandler(req, res);
}
