import { metrics, type Meter, trace, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (e.g. http://otel-collector:4318). Default: OTEL_EXPORTER_OTLP_ENDPOINT; unset = off. */
  otlpEndpoint?: string;
  metricsIntervalMs?: number;
  /** Extra span processors (tests use an in-memory exporter to follow one tap across services). */
  spanProcessors?: SpanProcessor[];
}

let started: { tracer: NodeTracerProvider; meter: MeterProvider; prometheus: PrometheusExporter } | undefined;

/**
 * Starts OpenTelemetry. Call it on the first line of every main, before anything else is imported, so
 * that every span and instrument is created against the real providers. Traces are always recorded
 * (log lines carry their ids); they are exported only when an OTLP endpoint is configured. Metrics are
 * always served as Prometheus text by `metricsHandler` and pushed over OTLP when configured.
 */
export function startTelemetry(opts: TelemetryOptions): void {
  if (started) return;
  const endpoint = (opts.otlpEndpoint ?? process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? '').replace(/\/$/, '');
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: process.env.OTEL_SERVICE_NAME ?? opts.serviceName,
    [ATTR_SERVICE_VERSION]: process.env.npm_package_version ?? '0.1.0',
  });
  const spanProcessors: SpanProcessor[] = [...(opts.spanProcessors ?? [])];
  const readers: MetricReader[] = [];
  const prometheus = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  readers.push(prometheus);
  if (endpoint) {
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` })));
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
        exportIntervalMillis: opts.metricsIntervalMs ?? 15_000,
      }),
    );
  }
  // With nowhere to send spans, record none: trace ids are still made and propagated (log lines carry
  // them), but a tap does not pay for building spans nobody reads. Parent-based, so a sampled trace
  // arriving from a caller stays sampled.
  const root = spanProcessors.length > 0 ? new AlwaysOnSampler() : new AlwaysOffSampler();
  const tracerProvider = new NodeTracerProvider({
    resource,
    spanProcessors,
    sampler: new ParentBasedSampler({ root }),
  });
  tracerProvider.register();
  const meterProvider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);
  started = { tracer: tracerProvider, meter: meterProvider, prometheus };
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
  await Promise.allSettled([s.tracer.shutdown(), s.meter.shutdown()]);
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
