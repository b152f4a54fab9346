import { createLogger } from './logger';
import { stopTelemetry } from './sdk';

/**
 * The one way a Tapgate process stops: on SIGTERM or SIGINT, close the service (drain sockets, NATS,
 * HTTP), flush telemetry, and exit 0; exit 1 if closing fails. Kubernetes sends SIGTERM on scale-down.
 */
export function stopOnSignals(
  service: string,
  /** Told which signal came: the gateway drains on SIGTERM and stops at once on SIGINT. */
  close: (signal: 'SIGTERM' | 'SIGINT') => Promise<void>,
): void {
  const log = createLogger(service);
  const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
    log.info({ signal }, 'shutting down');
    close(signal)
      .then(() => stopTelemetry())
      .then(
        () => process.exit(0),
        (e: unknown) => {
          log.error({ err: e }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
