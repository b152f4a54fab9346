import { integer, optionalText, optionalUrl } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface TelemetrySettings {
  /** OTLP/HTTP base URL; undefined = export off. */
  otlpEndpoint?: string;
  serviceName?: string;
  metricsIntervalMs: number;
}

export const telemetrySection = defineSection({
  name: 'telemetry',
  summary: 'OpenTelemetry export',
  fields: {
    otlp_endpoint: optionalUrl(['http', 'https']),
    service_name: optionalText(),
    metrics_interval_ms: integer({ default: 15_000, min: 1000, max: 86_400_000 }),
  },
  build: (v): TelemetrySettings =>
    defined({
      otlpEndpoint: v.otlp_endpoint,
      serviceName: v.service_name,
      metricsIntervalMs: v.metrics_interval_ms,
    }),
});
