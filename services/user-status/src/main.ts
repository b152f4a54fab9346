import { ConfigError, loadAgentConfig, loadOrExit } from '@tapgate/config';
import { startTelemetry, stopOnSignals } from '@tapgate/telemetry';
import { CONFIG_SECTIONS } from './config-sections';

// Config first (pure: no spans, no instruments; a bad file fails before anything starts), then telemetry
// with its [telemetry] settings, then the service, loaded only now so the http, ioredis and Nest
// instrumentations see those modules load and every module sees the real providers.
const config = loadOrExit(() => loadAgentConfig({ sections: CONFIG_SECTIONS }));
startTelemetry({
  serviceName: config.telemetry.serviceName ?? 'user-status',
  otlpEndpoint: config.telemetry.otlpEndpoint,
  metricsIntervalMs: config.telemetry.metricsIntervalMs,
});

async function main(): Promise<void> {
  const { bootstrap } = await import('./bootstrap.js');
  try {
    const app = await bootstrap({ config, waitForNats: false });
    stopOnSignals('user-status', () => app.close());
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`config error: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`user-status failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
