import { startTelemetry, stopOnSignals } from '@tapgate/telemetry';

// Telemetry first: the CommonJS output keeps this call before the requires below, so every
// instrument and span the app creates is a real one.
startTelemetry({ serviceName: 'user-status' });

import { ConfigError } from '@tapgate/config';
import { bootstrap } from './bootstrap';

async function main(): Promise<void> {
  try {
    const app = await bootstrap({ waitForNats: false });
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
