import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

// Field names that may carry secrets anywhere in a log object. pino replaces their values before
// serialisation, so a careless `log.info({ config })` cannot leak a bind password or a credential.
const REDACT = [
  'password',
  'token',
  'credential',
  'secret',
  'authorization',
  'bindPassword',
  '*.password',
  '*.token',
  '*.credential',
  '*.secret',
  '*.authorization',
  '*.bindPassword',
  'headers.authorization',
  'headers.cookie',
];

function traceFields(): Record<string, string> {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const ctx = span.spanContext();
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

// Loggers are created at import time all over the code base, so tests redirect output by swapping
// the sink's target rather than the root logger.
const stdout = pino.destination({ fd: 1, sync: true });
const sink = {
  target: stdout as { write(chunk: string): void },
  write(chunk: string): void {
    this.target.write(chunk);
  },
};

const root: Logger = pino(
  {
    level: process.env.TAPGATE_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: '[redacted]' },
    mixin: traceFields,
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  sink,
);

// pino children copy the level when they are made; most are made at import time, before the config
// is read, so setLogLevel must reach them too. They are few (one per module), so a list is fine.
const children: Logger[] = [];

/** A child logger named after the class or module that logs. Every line carries the active trace id. */
export function createLogger(name: string): Logger {
  const child = root.child({ name });
  children.push(child);
  return child;
}

/** Sets the level of every logger (called once config is loaded: [agent].log_level). */
export function setLogLevel(level: 'error' | 'warn' | 'info' | 'debug'): void {
  root.level = level;
  for (const c of children) c.level = level;
}

/** For tests: route all log output to a writable (e.g. to assert that no secret reaches a log). */
export function setLogDestination(stream: { write(chunk: string): void }, level = 'debug'): void {
  sink.target = stream;
  root.level = level;
  for (const c of children) c.level = level;
}

/** Sends log output back to stdout. */
export function resetLogDestination(): void {
  sink.target = stdout;
}
