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
 * The one way Tapgate services connect to Redis: a plain `[redis] url`, or the primary the configured
 * Sentinels name (then `url` gives only TLS and the database number). The caller owns the client: it
 * adds an 'error' listener (ioredis prints unhandled ones) and disconnects it.
 */
export function createRedisClient(settings: RedisSettings, behaviour: RedisBehaviour): Redis {
  // The URL first: ioredis takes its scheme (TLS), database and any user:password in it; with
  // Sentinels its host and port are not used.
  const client = new Redis(settings.url, redisClientOptions(settings, behaviour));
  if (settings.sentinel) {
    // quit() ends the data connection but leaves the failover detector's Sentinel subscriptions open
    // (ioredis cleans them up only in disconnect()); they would keep the process alive and reconnect.
    client.on('end', () => client.disconnect());
  }
  return client;
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
