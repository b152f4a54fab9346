export { startTelemetry, stopTelemetry, telemetryStarted, getTracer, getMeter, metricsHandler } from './sdk';
export type { TelemetryOptions } from './sdk';
export { createLogger, setLogLevel, setLogDestination, resetLogDestination } from './logger';
export type { Logger } from './logger';
export { NestPinoLogger } from './nest-logger';
export { injectTraceContext, extractTraceContext } from './propagation';
export type { HeaderCarrier } from './propagation';
export { stopOnSignals } from './shutdown';
