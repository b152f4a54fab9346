import type { RedisSettings } from '@tapgate/config';
import Redis, { type RedisOptions } from 'ioredis';

/**
 * What each service decides for itself: how it behaves while Redis is away (queue or fail, retries,
 * timeouts). Where the server is, its passwords, TLS and Sentinels come from RedisSettings only.
 */
export type RedisBehaviour = Pick<
  RedisOptions,
  | 'enableOfflineQueue'
  | 'maxRetriesPerRequest'
  | 'commandTimeout'
  | 'connectTimeout'
  | 'retryStrategy'
  | 'enableAutoPipelining'
  | 'lazyConnect'
>;

/**
 * A primary that Sentinel demoted answers writes with READONLY while it is still reachable (a network
 * split, a manual failover): reconnecting makes the client ask the Sentinels for the new primary. The
 * failing command is rejected, not retried, so a service that fails fast still does.
 */
export const reconnectOnReadonly = (err: Error): boolean => err.message.startsWith('READONLY');

/** The ioredis options for these settings and this behaviour (exported for tests and diagnostics). */
export function redisClientOptions(settings: RedisSettings, behaviour: RedisBehaviour): RedisOptions {
  const options: RedisOptions = { ...behaviour, password: settings.password };
  const sentinel = settings.sentinel;
  if (!sentinel) return options;
  // rediss:// is TLS to the data servers and to the Sentinels alike (one trust, the system's CAs).
  const tls = settings.url.startsWith('rediss://');
  return {
    ...options,
    sentinels: sentinel.sentinels.map(({ host, port }) => ({ host, port })),
    name: sentinel.masterName,
    role: 'master',
    sentinelPassword: sentinel.password,
    ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
    // When every Sentinel is unreachable, ask again at the service's own pace.
    sentinelRetryStrategy: behaviour.retryStrategy ?? undefined,
    // A Sentinel that accepts the connection but does not answer must not hold up finding the primary.
    sentinelCommandTimeout: behaviour.connectTimeout ?? 2000,
    // Subscribes to +switch-master: a failover that leaves the old primary running (so our socket
    // never breaks) still moves the client to the new one.
    failoverDetector: true,
    reconnectOnError: reconnectOnReadonly,
  };
}

/**
 * An ioredis client that does not give up unless it is told to. ioredis ends a client for good when a
 * connection attempt is abandoned, and with Sentinels that happens in an ordinary failover: the
 * failover detector closes the Sentinel connector on `+switch-master`, and an attempt in flight at that
 * moment (asking a Sentinel for the primary) fails with "Connection is closed". The client then sat in
 * status `end`, and presence refused every tap until it was restarted (seen in CI, where a loaded
 * machine makes those attempts slow; reproduced with one Sentinel frozen). Here a client that ended
 * without quit() or disconnect() connects again after its retry delay.
 */
class RestartingRedis extends Redis {
  private closedOnPurpose = false;
  private restartTimer: NodeJS.Timeout | undefined;

  constructor(url: string, options: RedisOptions) {
    super(url, options);
    const sentinel = (options.sentinels?.length ?? 0) > 0;
    let restarts = 0;
    this.on('ready', () => (restarts = 0));
    this.on('end', () => {
      if (this.closedOnPurpose) {
        // quit() ends the data connection but leaves the failover detector's Sentinel subscriptions
        // open (ioredis cleans them up only in disconnect()); they would keep the process alive.
        if (sentinel) super.disconnect();
        return;
      }
      const delay = options.retryStrategy?.(++restarts);
      if (typeof delay !== 'number') return;
      this.restartTimer = setTimeout(() => {
        if (!this.closedOnPurpose && this.status === 'end') this.connect().catch(() => undefined);
      }, delay);
      this.restartTimer.unref();
    });
  }

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closeOnPurpose();
    super.disconnect(reconnect);
  }

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    if (args[0].name === 'quit') this.closeOnPurpose();
    return super.sendCommand(...args);
  }

  /** quit() or disconnect(): the client stays ended. */
  private closeOnPurpose(): void {
    this.closedOnPurpose = true;
    clearTimeout(this.restartTimer);
  }
}

/**
 * The one way Tapgate services connect to Redis: a plain `[redis] url`, or the primary the configured
 * Sentinels name (then `url` gives only TLS and the database number). The caller owns the client: it
 * adds an 'error' listener (ioredis prints unhandled ones) and disconnects it. A client whose behaviour
 * has a retryStrategy keeps connecting until it is closed (RestartingRedis).
 */
export function createRedisClient(settings: RedisSettings, behaviour: RedisBehaviour): Redis {
  // The URL first: ioredis takes its scheme (TLS), database and any user:password in it; with
  // Sentinels its host and port are not used.
  return new RestartingRedis(settings.url, redisClientOptions(settings, behaviour));
}

/** Where the client connects, for logs: never a password. */
export function describeRedisTarget(settings: RedisSettings): string {
  const s = settings.sentinel;
  if (!s) {
    const u = new URL(settings.url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  }
  return `Sentinel master "${s.masterName}" via ${s.sentinels.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)).join(', ')}`;
}
