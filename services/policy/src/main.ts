import { ConfigError, loadAgentConfig, loadOrExit } from '@tapgate/config';
import { setLogLevel, startTelemetry, stopOnSignals } from '@tapgate/telemetry';
import { POLICY_CONFIG_SECTIONS } from './policy-settings';

// Config first (pure: no spans, no instruments; a bad file fails before anything starts), then telemetry
// with its [telemetry] settings, then the service, loaded only now so every module sees the real providers.
const config = loadOrExit(() => loadAgentConfig({ sections: POLICY_CONFIG_SECTIONS }));
startTelemetry({
  serviceName: config.telemetry.serviceName ?? 'policy',
  otlpEndpoint: config.telemetry.otlpEndpoint,
  metricsIntervalMs: config.telemetry.metricsIntervalMs,
});
setLogLevel(config.logLevel);

async function main(): Promise<void> {
  const { bootstrap } = await import('./bootstrap.js');
  const server = await bootstrap(config);
  stopOnSignals('policy', () => server.close());
}

main().catch((e: unknown) => {
  // bootstrap's ConfigError (e.g. no admin token file) is an operator error: exit 2, like loadOrExit.
  if (e instanceof ConfigError) {
    process.stderr.write(`config error: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`policy failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
