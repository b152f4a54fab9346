import { connect as netConnect, isIP, type Socket } from 'node:net';
import { ConfigError } from '@tapgate/config';
import { Client } from 'ldapts';
import { checkServerIdentity, connect as tlsConnect, type PeerCertificate, type TLSSocket } from 'node:tls';

export interface LdapTrustOptions {
  /** ldap://host[:port] or ldaps://host[:port] */
  url: string;
  /** PEM CA bundle ([ldap].ca_file); undefined = the system store. */
  ca?: string;
  startTls: boolean;
  timeoutMs: number;
}

/** The directory's certificate is not trusted, or does not name the URL's host: a configuration error. */
export class LdapTrustError extends Error {
  override readonly name = 'LdapTrustError';
  constructor(
    message: string,
    /** The [ldap] key to fix. */
    readonly key: 'url' | 'ca_file',
  ) {
    super(message);
  }

  /** As the ConfigError the services stop with (exit 2), naming the file and key, or the variable. */
  toConfigError(file: string | undefined): ConfigError {
    const key = file ? `[ldap].${this.key}` : `TAPGATE_LDAP_${this.key.toUpperCase()}`;
    return new ConfigError({ file, key, problem: this.message });
  }
}

/** The directory could not be reached to check its certificate (down, refused, timed out). */
export class LdapUnreachableError extends Error {
  override readonly name = 'LdapUnreachableError';
}

/** StartTLS extended request (RFC 4511 4.14.1), message id 1: fixed bytes, so no BER library is needed. */
const START_TLS_OID = '1.3.6.1.4.1.1466.20037';
const START_TLS_REQUEST = Buffer.concat([
  Buffer.from([0x30, 5 + 2 + START_TLS_OID.length, 0x02, 0x01, 0x01, 0x77, 2 + START_TLS_OID.length]),
  Buffer.from([0x80, START_TLS_OID.length]),
  Buffer.from(START_TLS_OID, 'latin1'),
]);

function withTimeout<T>(
  what: string,
  ms: number,
  run: (done: (e: Error | null, v?: T) => void) => () => void,
) {
  return new Promise<T>((resolve, reject) => {
    let cleanup = () => {};
    const timer = setTimeout(() => {
      cleanup();
      reject(new LdapUnreachableError(`${what}: no answer within ${ms} ms`));
    }, ms);
    cleanup = run((e, v) => {
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(v as T);
    });
  });
}

function plainSocket(host: string, port: number, ms: number): Promise<Socket> {
  return withTimeout(`connect ${host}:${port}`, ms, (done) => {
    const s = netConnect(port, host);
    s.once('connect', () => done(null, s));
    s.once('error', (e) => done(new LdapUnreachableError(`connect ${host}:${port}: ${e.message}`)));
    return () => s.destroy();
  });
}

async function startTls(host: string, port: number, ms: number): Promise<Socket> {
  const s = await plainSocket(host, port, ms);
  return withTimeout(`StartTLS on ${host}:${port}`, ms, (done) => {
    s.once('data', (b: Buffer) => {
      // ExtendedResponse [APPLICATION 24] whose resultCode (ENUMERATED) is 0 = success.
      const at = b.indexOf(0x78);
      const ok = at > 0 && b.indexOf(Buffer.from([0x0a, 0x01, 0x00]), at) > at;
      if (ok) done(null, s);
      else {
        s.destroy();
        done(new LdapTrustError(`ldap://${host}:${port}: the server refused StartTLS`, 'url'));
      }
    });
    s.once('error', (e) => done(new LdapUnreachableError(`StartTLS on ${host}:${port}: ${e.message}`)));
    s.write(START_TLS_REQUEST);
    return () => s.destroy();
  });
}

/** The names a certificate is valid for, as `DNS:x, IP Address:y` (or its subject CN when it has no SAN). */
export function certificateNames(cert: PeerCertificate): string {
  return cert.subjectaltname ?? (cert.subject?.CN ? `CN=${String(cert.subject.CN)}` : '(none)');
}

/**
 * Opens one TLS connection to the directory as the services will (ldaps://, or ldap:// + StartTLS) and
 * checks its certificate: signed by the configured CA, and valid for the URL's host. Throws
 * LdapTrustError naming the URL host and the certificate's names (or its issuer), and
 * LdapUnreachableError when the directory does not answer. Plain ldap:// without StartTLS has nothing to check.
 */
export async function checkLdapTrust(opts: LdapTrustOptions): Promise<void> {
  const url = new URL(opts.url);
  const ldaps = url.protocol === 'ldaps:';
  if (!ldaps && !opts.startTls) return;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (ldaps ? 636 : 389));
  const underlying = ldaps ? undefined : await startTls(host, port, opts.timeoutMs);
  const where = `${url.protocol}//${url.host}`;
  // rejectUnauthorized false so the certificate can be read and described; it is judged below instead.
  const socket = await withTimeout<TLSSocket>(`TLS handshake with ${where}`, opts.timeoutMs, (done) => {
    const s = tlsConnect({
      ...(underlying ? { socket: underlying } : { host, port }),
      ...(isIP(host) ? {} : { servername: host }),
      ...(opts.ca ? { ca: opts.ca } : {}),
      minVersion: 'TLSv1.2',
      rejectUnauthorized: false,
    });
    s.once('secureConnect', () => done(null, s));
    s.once('error', (e: NodeJS.ErrnoException) => {
      const tlsProblem = /^(ERR_SSL_|ERR_TLS_|EPROTO)/.test(e.code ?? '');
      const message = `${where}: TLS handshake failed (${e.code ?? e.message}); TLS 1.2 or later is required`;
      done(tlsProblem ? new LdapTrustError(message, 'url') : new LdapUnreachableError(message));
    });
    return () => s.destroy();
  });
  try {
    const cert = socket.getPeerCertificate();
    // With rejectUnauthorized off, Node reports a name mismatch as the authorization error too: the
    // chain is judged here, the name below.
    const authError = socket.authorizationError as unknown as string | Error | null;
    const chainError = String(authError ?? '') === 'ERR_TLS_CERT_ALTNAME_INVALID' ? null : authError;
    if (!socket.authorized && chainError) {
      const issuer = cert.issuer?.CN ? `CN=${String(cert.issuer.CN)}` : 'an unknown issuer';
      const subject = cert.subject?.CN ? `CN=${String(cert.subject.CN)}` : '(no subject)';
      const trusted = opts.ca
        ? 'a CA in [ldap].ca_file: point ca_file at the CA that issued it'
        : 'a CA in the system store: set [ldap].ca_file to the CA that issued it';
      throw new LdapTrustError(
        `${where}: the directory's certificate (${subject}, issued by ${issuer}) is not signed by ${trusted} (${String(chainError)})`,
        'ca_file',
      );
    }
    if (checkServerIdentity(host, cert) !== undefined) {
      throw new LdapTrustError(
        `${where}: the URL host "${host}" is not among the names on the directory's certificate (${certificateNames(cert)}): use one of those names in [ldap].url, or reissue the certificate with "${host}"`,
        'url',
      );
    }
  } finally {
    socket.destroy();
  }
}

/**
 * Binds once with the service account over the same transport the service uses (after checkLdapTrust).
 * Throws the bind's error (ldapts InvalidCredentialsError for a wrong password) or a connection error.
 */
export async function checkLdapBind(
  opts: LdapTrustOptions & { bindDn: string; bindPassword: string },
): Promise<void> {
  const tls = { minVersion: 'TLSv1.2' as const, ...(opts.ca ? { ca: opts.ca } : {}) };
  const client = new Client({
    url: opts.url,
    timeout: opts.timeoutMs,
    connectTimeout: opts.timeoutMs,
    ...(opts.url.startsWith('ldaps:') ? { tlsOptions: tls } : {}),
  });
  try {
    if (opts.startTls) await client.startTLS(tls);
    await client.bind(opts.bindDn, opts.bindPassword);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}
