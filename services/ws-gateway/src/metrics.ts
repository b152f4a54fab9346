import { X509Certificate } from 'node:crypto';
import type { Counter, Histogram, UpDownCounter } from '@opentelemetry/api';
import { getMeter } from '@tapgate/telemetry';
import type { ListenerSpec } from './socket/tapgate-ws.adapter';

/** Bucket bounds (ms) sized for the tap path: sub-millisecond floor, 10 ms goal, 30 ms on a cache miss. */
const LATENCY_BUCKETS_MS = [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 100, 250, 500, 1000, 2500];

/** The gateway's instruments, created once after telemetry has started. */
export class GatewayMetrics {
  readonly tapLatency: Histogram;
  readonly taps: Counter;
  readonly connections: UpDownCounter;
  readonly socketErrors: Counter;

  /**
   * `listeners`: the wss listeners' certificates are exported as tapgate_tls_certificate_expiry
   * (notAfter, Unix seconds, by listener): the gateway reads them at start-up only, so a renewed Secret
   * does not help until pods restart, and the chart's TapgateCertificateExpiry alert watches this.
   */
  constructor(listeners: readonly (ListenerSpec | undefined)[] = []) {
    const meter = getMeter();
    const expiries = listeners.flatMap((l) =>
      l?.tls
        ? [
            {
              listener: l.iface,
              notAfter: Date.parse(new X509Certificate(l.tls.material.cert).validTo) / 1000,
            },
          ]
        : [],
    );
    if (expiries.length > 0) {
      meter
        .createObservableGauge('tapgate.tls.certificate.expiry', {
          unit: 's',
          description: "notAfter of each wss listener's certificate, in Unix seconds",
        })
        .addCallback((result) => {
          for (const e of expiries) result.observe(e.notAfter, { listener: e.listener });
        });
    }
    this.tapLatency = meter.createHistogram('tapgate.tap.latency', {
      unit: 'ms',
      description: 'Tap received from an endpoint until delivered to its NEA clients (or refused)',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS_MS },
    });
    this.taps = meter.createCounter('tapgate.taps', { description: 'Taps by outcome and refusal reason' });
    this.connections = meter.createUpDownCounter('tapgate.connections.open', {
      description: 'Open sockets by kind: endpoint, nea, or pending (no hello yet)',
    });
    this.socketErrors = meter.createCounter('tapgate.socket.errors', {
      description: 'Error frames and protocol closes sent to clients, by code',
    });
  }
}
