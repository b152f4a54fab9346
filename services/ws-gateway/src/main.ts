import { loadAgentConfig, loadOrExit } from '@tapgate/config';
import { startTelemetry, stopOnSignals } from '@tapgate/telemetry';

// Config first (a pure library: a bad file must fail before anything starts), then OpenTelemetry,
// then everything else, so every module of the service sees the real telemetry providers.
const cfg = loadOrExit(() =>
  loadAgentConfig({
    sections: ['agent', 'webapi', 'nats', 'http', 'gateway', 'telemetry', 'assertions', 'audit'],
  }),
);
startTelemetry({
  serviceName: cfg.telemetry.serviceName ?? 'ws-gateway',
  otlpEndpoint: cfg.telemetry.otlpEndpoint,
  metricsIntervalMs: cfg.telemetry.metricsIntervalMs,
});

void (async () => {
  const { bootstrap, gatewaySettings, setLogLevel } = await import('./bootstrap.js');
  setLogLevel(cfg.agent.logLevel);
  const gw = await bootstrap(gatewaySettings(cfg));
  // SIGTERM (Kubernetes) drains; SIGINT (Ctrl-C) stops at once (docs/operations.md, "Rolling upgrades").
  stopOnSignals('ws-gateway', (signal) => gw.close({ drain: signal === 'SIGTERM' }));
})().catch((e: unknown) => {
  console.error('ws-gateway failed to start:', e);
  process.exit(1);
});
