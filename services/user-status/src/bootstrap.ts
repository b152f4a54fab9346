import 'reflect-metadata';
import { hostname } from 'node:os';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConfigError, loadAgentConfig } from '@tapgate/config';
import { UserStatusInvalidated } from '@tapgate/contracts';
import { CONFIG_SECTIONS, type UserStatusConfig } from './config-sections';
import { connectMessaging, natsMessagingOptions, type Messaging } from '@tapgate/messaging';
import { NestPinoLogger, createLogger, setLogLevel } from '@tapgate/telemetry';
import { createRedisClient, describeRedisTarget } from '@tapgate/redis';
import type { Redis } from 'ioredis';
import { AppModule } from './app.module';
import { StatusCache } from './cache/status-cache';
import type { Directory } from './directory/directory';
import { FileDirectory } from './directory/file-directory';
import { LdapDirectory } from './directory/ldap-directory';
import { LdapTrustError } from '@tapgate/ldap';
import { registerResponders } from './nats/responders';
import { KvPolicySource } from './policy/kv-policy-source';
import { type PolicySource } from './policy/policy-source';
import { UserStatusService } from './status/user-status.service';

export { CONFIG_SECTIONS, type UserStatusConfig } from './config-sections';

export interface BootstrapOptions {
  /** Default: nymi_agent.toml from TAPGATE_CONFIG plus environment overrides. */
  config?: UserStatusConfig;
  /** Replace the configured policy source (the policy service will provide a KV-backed one). */
  policy?: PolicySource;
  /** Resolve only once NATS is connected and the responders are registered (tests). Default true. */
  waitForNats?: boolean;
}

export interface UserStatusApp {
  readonly app: INestApplication;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  readonly service: UserStatusService;
  readonly policy: PolicySource;
  readonly directory: Directory;
  readonly messaging: Messaging;
  readonly redis: Redis;
  close(): Promise<void>;
}

/** The directory the configuration names; a missing setting is a ConfigError at start-up. */
export function createDirectory(config: UserStatusConfig): Directory {
  const us = config.userStatus;
  if (us.directory === 'file') {
    try {
      return new FileDirectory(us.usersFile!);
    } catch (e) {
      throw new ConfigError({
        file: config.file,
        key: '[user_status].users_file',
        problem: (e as Error).message,
      });
    }
  }
  const l = config.ldap;
  if (!l.url || !l.baseDn || !l.bind) {
    throw new ConfigError({
      file: config.file,
      key: '[ldap].url',
      problem: 'required when [user_status].directory = "ldap"',
    });
  }
  return new LdapDirectory({
    url: l.url,
    baseDn: l.baseDn,
    bindDn: l.bind.dn,
    bindPassword: l.bind.password,
    ca: l.ca,
    startTls: l.startTls,
    connectTimeoutMs: l.connectTimeoutMs,
    timeoutMs: l.timeoutMs,
    poolSize: l.poolSize,
  });
}

/**
 * One TLS connection and one bind before anything starts: a certificate the configured CA did not sign,
 * or one that does not name the URL's host, stops the service with a ConfigError (exit 2), instead of
 * surfacing as `unavailable` at the first tap. An unreachable directory or a rejected bind does not stop
 * it (the directory may come back; readiness detail says what failed).
 */
async function checkDirectoryTrust(config: UserStatusConfig, directory: Directory): Promise<void> {
  if (!(directory instanceof LdapDirectory)) return;
  try {
    await directory.probe();
  } catch (e) {
    await directory.close();
    if (e instanceof LdapTrustError) {
      throw e.toConfigError(config.file);
    }
    throw e;
  }
  const health = directory.health();
  if (health.state === 'down') {
    createLogger('bootstrap').warn(
      { detail: health.detail },
      'directory not usable at start-up; starting anyway',
    );
  }
}

function createRedis(config: UserStatusConfig): Redis {
  const log = createLogger('redis');
  const redis = createRedisClient(config.redis, {
    // Fail fast while Redis is away: the service then answers from the directory instead of waiting.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: config.userStatus.cacheTimeoutMs,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // Commands issued in the same tick share one socket write: under load the cost per request is the
    // write syscall, not Redis.
    enableAutoPipelining: true,
  });
  let down = false;
  redis.on('error', (e: Error) => {
    if (!down) {
      log.warn(
        { err: e.message, redis: describeRedisTarget(config.redis) },
        'Redis unavailable: answering from the directory without the cache',
      );
    }
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('Redis is back: cache in use again');
    down = false;
  });
  return redis;
}

/**
 * Builds and starts the service: directory, Redis cache, policy, HTTP (health, readiness, metrics,
 * admin invalidation) and the NATS responders. Tests call it in-process; main.ts calls it after
 * startTelemetry.
 */
export async function bootstrap(opts: BootstrapOptions = {}): Promise<UserStatusApp> {
  const config = opts.config ?? loadAgentConfig({ sections: CONFIG_SECTIONS });
  setLogLevel(config.logLevel);
  const log = createLogger('bootstrap');
  const us = config.userStatus;
  const directory = createDirectory(config);
  await checkDirectoryTrust(config, directory);
  const messaging = connectMessaging(natsMessagingOptions(config.nats, `user-status-${hostname()}`));
  // Policies from the policy service's KV bucket (watched), over the configured values as the fallback.
  const kvPolicy = opts.policy
    ? undefined
    : new KvPolicySource(
        messaging,
        {
          checkUserStatus: us.checkUserStatus,
          cacheUserStatus: us.cacheUserStatus,
          cacheExpirySeconds: us.cacheExpirySeconds,
        },
        `${hostname()
          .replace(/[^A-Za-z0-9_-]/g, '_')
          .slice(0, 40)}-${process.pid}`,
      ).start();
  const policy: PolicySource = opts.policy ?? kvPolicy!;
  policy.onChange((p) => log.info({ policy: p }, 'user-status policy changed'));
  const redis = createRedis(config);
  // Give Redis a moment to connect so the first requests can use the cache; if it is down, start
  // anyway (degraded: answers come from the directory) rather than wait.
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const service = new UserStatusService(
    directory,
    new StatusCache(redis, us.negativeCacheSeconds),
    policy,
    undefined,
    // Gateways reuse active answers; after an invalidation they must forget them, or it is not done.
    (user) => messaging.publish(UserStatusInvalidated, { v: 1, user, at: new Date().toISOString() }),
  );
  const stopResponding = registerResponders(messaging, service);

  const app = await NestFactory.create(
    AppModule.forRoot({ service, directory, redis, messaging, policy, adminToken: us.admin?.token }),
    { logger: new NestPinoLogger(), bodyParser: true },
  );
  await app.listen(config.http.port, config.http.host);
  const url = `http://127.0.0.1:${config.http.port}`;
  if (opts.waitForNats ?? true) {
    const nc = await messaging.connection();
    await nc.flush(); // the responders' subscriptions are on the server before anyone is told we are up
  }
  log.info(
    { directory: directory.kind, http: config.http.port, policy: policy.current() },
    'user-status started',
  );

  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    service,
    policy,
    directory,
    messaging,
    redis,
    close: () =>
      (closing ??= (async () => {
        stopResponding();
        await kvPolicy?.stop();
        await app.close();
        await messaging.close();
        await directory.close();
        redis.disconnect();
      })()),
  };
}
