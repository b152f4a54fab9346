import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Client, InvalidCredentialsError } from 'ldapts';
import { DirectoryError } from './directory';

export interface LdapConnectionOptions {
  /** ldap://host[:port] or ldaps://host[:port] */
  url: string;
  bindDn: string;
  bindPassword: string;
  /** PEM CA bundle that signed the directory's certificate (default: the system store). */
  ca?: string;
  /** Upgrade ldap:// with StartTLS before binding. */
  startTls: boolean;
  connectTimeoutMs: number;
  /** Per operation; also the longest a request waits for a free connection. */
  timeoutMs: number;
  /** Connections kept open, and so the most operations in flight at once. */
  poolSize: number;
  /** After AD rejects the service account's password, wait this long before binding again (default 60 s). */
  bindRetryMs?: number;
}

/** AD puts the reason of a failed bind in "data XXX" (52e bad password, 533 disabled, 775 locked...). */
function adSubCode(message: string): string {
  const m = /data ([0-9a-f]{3,8})/i.exec(message);
  return m ? ` (AD data ${m[1]})` : '';
}

/**
 * A small pool of bound connections. Each Client is allowed exactly one TCP connection: ldapts would
 * otherwise reconnect by itself after a drop and run the next search unbound (and, after StartTLS, in
 * clear text), so a dropped client is discarded and a fresh one is opened and bound instead.
 */
export class LdapPool {
  private readonly idle: Client[] = [];
  private inUse = 0;
  private readonly waiters: Array<() => void> = [];
  private closed = false;
  private bindRejectedUntil = 0;
  private bindRejection = '';
  private readonly tls: ConnectionOptions;
  private readonly host: string;
  private readonly ldaps: boolean;

  constructor(private readonly opts: LdapConnectionOptions) {
    const url = new URL(opts.url);
    if (url.protocol !== 'ldap:' && url.protocol !== 'ldaps:') {
      throw new Error(`LDAP url must be ldap:// or ldaps:// (got ${url.protocol}//)`);
    }
    this.host = url.hostname.replace(/^\[|\]$/g, '');
    this.ldaps = url.protocol === 'ldaps:';
    this.tls = { minVersion: 'TLSv1.2', ...(opts.ca ? { ca: opts.ca } : {}) };
  }

  /** Runs `fn` on a bound connection; at most poolSize run at once, the rest wait up to timeoutMs. */
  async use<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    // Every rejected bind counts towards AD's lockout threshold: retrying a wrong password on each
    // request would lock the service account out within a few taps, and keep it locked.
    if (Date.now() < this.bindRejectedUntil) {
      const wait = Math.ceil((this.bindRejectedUntil - Date.now()) / 1000);
      throw new DirectoryError('bind', `${this.bindRejection}; next bind attempt in ${wait} s`);
    }
    const release = await this.slot();
    try {
      const reused = this.idle.pop();
      if (reused?.isBound) {
        try {
          return await this.run(reused, fn);
        } catch (e) {
          // A pooled connection may have been closed by the server while idle: one fresh attempt.
          if (e instanceof DirectoryError || !isConnectionError(e)) throw e;
        }
      } else if (reused) {
        void reused.unbind().catch(() => undefined);
      }
      return await this.run(await this.open(), fn);
    } finally {
      release();
    }
  }

  private async run<T>(client: Client, fn: (client: Client) => Promise<T>): Promise<T> {
    try {
      const result = await fn(client);
      if (!this.closed && client.isBound) this.idle.push(client);
      else void client.unbind().catch(() => undefined);
      return result;
    } catch (e) {
      void client.unbind().catch(() => undefined);
      throw e;
    }
  }

  private slot(): Promise<() => void> {
    if (this.closed) return Promise.reject(new DirectoryError('unreachable', 'directory client closed'));
    const release = () => {
      this.inUse--;
      this.waiters.shift()?.();
    };
    if (this.inUse < this.opts.poolSize) {
      this.inUse++;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        this.inUse++;
        resolve(release);
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new DirectoryError('busy', `no LDAP connection free within ${this.opts.timeoutMs} ms`));
      }, this.opts.timeoutMs);
      this.waiters.push(grant);
    });
  }

  private async open(): Promise<Client> {
    let connections = 0;
    const once = () => {
      if (++connections > 1) throw new Error('LDAP connection lost; not reconnecting this client');
    };
    const client = new Client({
      url: this.opts.url,
      timeout: this.opts.timeoutMs,
      connectTimeout: this.opts.connectTimeoutMs,
      // ldapts speaks TLS from the first byte whenever tlsOptions is set, so only for ldaps://.
      ...(this.ldaps ? { tlsOptions: this.tls } : {}),
      createConnection: ((port: number, host: string) => {
        once();
        return netConnect(port, host);
      }) as typeof netConnect,
      createSecureConnection: ((...args: Parameters<typeof tlsConnect>) => {
        // StartTLS upgrades the existing socket (options.socket set): that is the same connection.
        const first = args[0] as ConnectionOptions | number;
        if (typeof first === 'number') once();
        return tlsConnect(...args);
      }) as typeof tlsConnect,
    });
    try {
      if (this.opts.startTls) {
        // With an existing socket TLS checks the certificate against `host`; SNI only takes names.
        const name = isIP(this.host) ? {} : { servername: this.host };
        await client.startTLS({ ...this.tls, host: this.host, ...name });
      }
      await client.bind(this.opts.bindDn, this.opts.bindPassword);
      return client;
    } catch (e) {
      void client.unbind().catch(() => undefined);
      if (e instanceof InvalidCredentialsError) {
        this.bindRejectedUntil = Date.now() + (this.opts.bindRetryMs ?? 60_000);
        this.bindRejection = `service account bind rejected: invalid credentials${adSubCode(e.message)}`;
        throw new DirectoryError('bind', this.bindRejection);
      }
      throw e;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.idle.splice(0).map((c) => c.unbind()));
  }
}

/** Errors that mean "the connection is gone", as opposed to an LDAP result code. */
export function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  return (
    /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/.test(code) ||
    /Connection closed|Socket error|Socket connection not established|Connection timeout|connection lost|timed out/i.test(
      e.message,
    )
  );
}
