import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';

// startTelemetry runs once per process and reads process.env, so each case is a fresh Node process.
const INDEX = join(__dirname, 'index.js');

/** Runs `body` after startTelemetry in a new process with exactly `env` (plus PATH); returns its output. */
function run(env: Record<string, string>, body = '') {
  const script = `
    const api = require('@opentelemetry/api');
    const t = require(${JSON.stringify(INDEX)});
    t.startTelemetry({ serviceName: 'sdk-test' });
    (async () => { ${body} })().then(() => t.stopTelemetry()).then(
      () => process.exit(0),
      (e) => { console.error('FAILED', e); process.exit(1); },
    );`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { PATH: process.env.PATH ?? '', TAPGATE_LOG_LEVEL: 'info', ...env },
    cwd: join(__dirname, '..', '..', '..'),
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const NOT_RECORDING = `
  const span = t.getTracer().startSpan('tap');
  if (span.isRecording()) throw new Error('a recording span');
  if (api.trace.getTracerProvider().getDelegate?.().constructor.name !== 'NoopTracerProvider') {
    throw new Error('a tracer provider is registered: ' + api.trace.getTracerProvider().getDelegate?.().constructor.name);
  }
  // A caller's traceparent still flows on: the handler's context (and what it sends on) keeps its trace.
  const parent = t.extractTraceContext({ get: (k) => k === 'traceparent' ? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' : undefined, set() {} });
  const child = t.getTracer().startSpan('process', {}, parent);
  const out = new Map();
  t.injectTraceContext({ get: () => undefined, set: (k, v) => out.set(k, v) }, api.trace.setSpan(parent, child));
  if (!String(out.get('traceparent')).startsWith('00-0af7651916cd43dd8448eb211c80319c-')) {
    throw new Error('traceparent not passed on: ' + out.get('traceparent'));
  }`;

const METRICS_SERVED = `
  const http = require('node:http');
  const server = http.createServer((req, res) => t.metricsHandler(req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.getMeter().createCounter('tapgate.sdk_test').add(1);
  const body = await (await fetch('http://127.0.0.1:' + server.address().port + '/metrics')).text();
  server.close();
  if (!/tapgate_sdk_test_total 1/.test(body)) throw new Error('no Prometheus text: ' + body);`;

describe('startTelemetry reads the standard OTEL_* variables', () => {
  it('with no OTLP endpoint traces nothing (no tracer provider, no per-tap span), yet passes a traceparent on and serves /metrics', () => {
    const r = run({}, NOT_RECORDING + METRICS_SERVED);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /"traces":"none"/);
  });

  it('with an endpoint records spans (parent-based always-on unless OTEL_TRACES_SAMPLER says otherwise)', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_METRICS_EXPORTER: 'none' };
    const on = run(
      endpoint,
      `if (!t.getTracer().startSpan('tap').isRecording()) throw new Error('not recording');`,
    );
    assert.equal(on.status, 0, on.out);
    assert.match(on.out, /"traces":"otlp"/);
    const off = run(
      { ...endpoint, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      `if (t.getTracer().startSpan('tap').isRecording()) throw new Error('recording at ratio 0');`,
    );
    assert.equal(off.status, 0, off.out);
  });

  it('OTEL_SDK_DISABLED=true turns tracing off but keeps /metrics', () => {
    const r = run(
      { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' },
      METRICS_SERVED,
    );
    assert.equal(r.status, 0, r.out);
  });

  it('refuses an exporter or protocol it cannot honour with a config error (exit 2), never logging headers', () => {
    const secret = 'api-key=s3cr3t-value';
    for (const env of <Record<string, string>[]>[
      { OTEL_TRACES_EXPORTER: 'jaeger' },
      { OTEL_METRICS_EXPORTER: 'statsd' },
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/xml' },
    ]) {
      const r = run({ ...env, OTEL_EXPORTER_OTLP_HEADERS: secret });
      assert.equal(r.status, 2, r.out);
      assert.match(r.out, /^config error: OTEL_[A-Z_]+ "[^"]+" is not one of /m);
      assert.ok(!r.out.includes('s3cr3t'), r.out);
    }
    const ok = run({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:pw@127.0.0.1:9/?token=t0k',
      OTEL_EXPORTER_OTLP_HEADERS: secret,
      OTEL_METRICS_EXPORTER: 'none',
    });
    assert.equal(ok.status, 0, ok.out);
    assert.match(ok.out, /"endpoint":"http:\/\/127\.0\.0\.1:9\/"/);
    for (const leak of ['s3cr3t', 'pw@', 't0k']) assert.ok(!ok.out.includes(leak), ok.out);
  });
});
