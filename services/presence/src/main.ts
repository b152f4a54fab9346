import { loadAgentConfig, loadOrExit } from '@tapgate/config';
import { setLogLevel, startTelemetry, stopOnSignals } from '@tapgate/telemetry';
import { hostname } from 'node:os';

// Config first (pure: no spans, no instruments), then telemetry, then everything that instruments.
// Not [agent]: building it needs the gateway's TLS files when protocol = "wss", which presence pods do
// not mount; the loader offers [agent].log_level as `logLevel` whatever sections are built.
const config = loadOrExit(() =>
  loadAgentConfig({ sections: ['nats', 'redis', 'http', 'telemetry', 'presence'] }),
);
startTelemetry({
  serviceName: config.telemetry.serviceName ?? 'presence',
  otlpEndpoint: config.telemetry.otlpEndpoint,
  metricsIntervalMs: config.telemetry.metricsIntervalMs,
});
setLogLevel(config.logLevel);

async function main(): Promise<void> {
  const { createPresenceApp } = await import('./bootstrap.js');
  const { natsMessagingOptions } = await import('@tapgate/messaging');
  const app = await createPresenceApp({
    nats: natsMessagingOptions(config.nats, `presence-${hostname()}`),
    redis: config.redis,
    http: config.http,
    settings: config.presence,
  });
  stopOnSignals('presence', () => app.close());
}

main().catch((e: unknown) => {
  process.stderr.write(`presence failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
