import type { Counter, Histogram, UpDownCounter } from '@opentelemetry/api';
import { getMeter } from '@tapgate/telemetry';

/** Bucket bounds (ms) sized for the tap path: sub-millisecond floor, 10 ms goal, 30 ms on a cache miss. */
const LATENCY_BUCKETS_MS = [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 100, 250, 500, 1000, 2500];

/** The gateway's instruments, created once after telemetry has started. */
export class GatewayMetrics {
  readonly tapLatency: Histogram;
  readonly taps: Counter;
  readonly connections: UpDownCounter;
  readonly socketErrors: Counter;

  constructor() {
    const meter = getMeter();
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
