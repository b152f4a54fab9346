import type { Logger } from 'pino';

export interface RateLimitedLogOptions {
  /** The window (ms; default 10 s): the first occurrence in it is logged, the rest only counted. */
  intervalMs?: number;
  level?: 'warn' | 'error' | 'info';
}

/**
 * A log line for something that can happen on every tap (a dependency down, a decision too old under
 * overload): one line per window instead of one per event, since a synchronous log write per tap is
 * itself a load amplifier exactly when the service is overloaded. The first occurrence of a window is
 * logged at once with its fields; when the window closes, one more line says how many followed
 * (`suppressed`) with the fields of the last of them. Nothing is dropped silently.
 */
export function rateLimitedLog(
  logger: Logger,
  msg: string,
  opts: RateLimitedLogOptions = {},
): (fields: Record<string, unknown>) => void {
  const intervalMs = opts.intervalMs ?? 10_000;
  const level = opts.level ?? 'warn';
  let windowOpen = false;
  let suppressed = 0;
  let last: Record<string, unknown> = {};
  const close = () => {
    windowOpen = false;
    if (suppressed === 0) return;
    logger[level]({ ...last, suppressed, windowMs: intervalMs }, `${msg} (${suppressed} more not logged)`);
    suppressed = 0;
  };
  return (fields) => {
    if (windowOpen) {
      suppressed++;
      last = fields;
      return;
    }
    windowOpen = true;
    logger[level](fields, msg);
    // unref: a pending summary never keeps a stopping process alive.
    setTimeout(close, intervalMs).unref();
  };
}
