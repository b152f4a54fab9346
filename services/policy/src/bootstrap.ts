import 'reflect-metadata';
import { hostname } from 'node:os';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { connectMessaging, natsMessagingOptions } from '@tapgate/messaging';
import { checkLdapBind, checkLdapTrust, LdapTrustError } from '@tapgate/ldap';
import { NestPinoLogger, createLogger, type Logger } from '@tapgate/telemetry';
import { PolicyAppModule } from './app.module';
import { BootstrapAdminCode } from './auth/bootstrap-code';
import { ApiExceptionFilter } from './common/api-exception.filter';
import { policySettings, type PolicyConfig, type PolicySettings } from './policy-settings';
import { Buckets } from './store/buckets';

export interface PolicyServer {
  readonly app: NestExpressApplication;
  /** http://host:port of the REST API and probes. */
  readonly url: string;
  /** Stops accepting requests, then closes NATS. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Administrator login's directory, checked once before the service starts: a certificate that the
 * configured CA did not sign or that does not name the URL's host is a ConfigError (exit 2). A directory
 * that does not answer or rejects the service account only logs a warning: it may come back, and the
 * break-glass token (if set) still works.
 */
async function checkAdminDirectory(
  settings: PolicySettings,
  file: string | undefined,
  log: Logger,
): Promise<void> {
  const d = settings.directory;
  if (!d) return;
  const opts = { url: d.url, ca: d.ca, startTls: d.startTls, timeoutMs: d.timeoutMs };
  try {
    await checkLdapTrust(opts);
    await checkLdapBind({ ...opts, bindDn: d.bind.dn, bindPassword: d.bind.password });
  } catch (e) {
    if (e instanceof LdapTrustError) throw e.toConfigError(file);
    const message = (e as Error).message.split(d.bind.password).join('[redacted]');
    log.warn({ url: d.url, err: message }, 'administrator login directory not usable at start-up');
  }
}

/**
 * Starts the policy service on [http].host:[http].port. Throws ConfigError when [policy] lacks what the
 * service needs. NATS is connected in the background: the API answers 503 until the buckets are open.
 */
export async function bootstrap(config: PolicyConfig): Promise<PolicyServer> {
  const log = createLogger('policy');
  const settings = policySettings(config);
  await checkAdminDirectory(settings, config.file, log);
  const messaging = connectMessaging(natsMessagingOptions(config.nats, `policy-${hostname()}`));
  const buckets = new Buckets(messaging);
  let app: NestExpressApplication;
  let bootstrapCode: BootstrapAdminCode | undefined;
  try {
    if (settings.bootstrapAdmin) {
      bootstrapCode = BootstrapAdminCode.issue(settings.bootstrapAdmin.file, settings.bootstrapAdmin.ttlMs);
    }
    app = await NestFactory.create<NestExpressApplication>(
      PolicyAppModule.forRoot({ settings, messaging, buckets, bootstrapCode }),
      { logger: new NestPinoLogger(), abortOnError: false },
    );
    app.disable('x-powered-by');
    app.useBodyParser('json', { limit: '64kb' });
    app.useGlobalFilters(new ApiExceptionFilter());
    await app.listen(config.http.port, config.http.host).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      throw new Error(
        `port ${config.http.port} on ${config.http.host} is already in use ([http].port, TAPGATE_HTTP_PORT): stop what holds it or choose another port`,
      );
    });
  } catch (e) {
    buckets.stop();
    await messaging.close();
    throw e;
  }
  const address = app.getHttpServer().address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url, adminLogin: settings.directory !== undefined }, 'policy service listening');
  if (bootstrapCode) {
    // The path, never the code: secrets stay out of logs.
    log.warn(
      { file: settings.bootstrapAdmin?.file, expiresAt: bootstrapCode.expiry.toISOString() },
      'bootstrap administrator ENABLED: a one-time sign-in code is in this file (POST /v1/auth/bootstrap); unset [policy].bootstrap_admin_file once administrators can log in',
    );
  }
  if (settings.adminToken !== undefined) {
    log.warn(
      { actor: settings.adminName },
      'break-glass administrator token is ENABLED ([policy].admin_token_file); remove it once administrator login works',
    );
  }

  let closing: Promise<void> | undefined;
  return {
    app,
    url,
    close() {
      closing ??= (async () => {
        buckets.stop();
        await app.close();
        await messaging.close();
      })();
      return closing;
    },
  };
}
