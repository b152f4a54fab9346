import { execFile } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A certificate (or bare key) on disk, with its PEM text. */
export interface TestPem {
  readonly certFile: string;
  readonly cert: string;
  readonly keyFile: string;
  readonly key: string;
}

export interface TestPki {
  readonly dir: string;
  /** Self-signed root CA; `ca.certFile` is what a client trusts (cacertfile / ca_file). */
  readonly ca: TestPem;
  /** Server certificate for localhost, 127.0.0.1 and ::1, issued by the CA. */
  readonly server: TestPem;
  /** Client certificate (CN=tapgate-test-client, clientAuth) for mutual TLS. */
  readonly client: TestPem;
  /** Server certificate for localhost that expired on 2020-01-02. */
  readonly expiredServer: TestPem;
  /** A P-256 key that matches none of the certificates. */
  readonly mismatchedKey: { readonly keyFile: string; readonly key: string };
  /** Issues another client certificate (clientAuth) with subject CN `cn`, e.g. a terminal id. */
  issueClient(cn: string): Promise<TestPem & { readonly sha256: string }>;
  /** Issues a server certificate for localhost with an RSA 2048 key (to test RSA key exchange). */
  issueRsaServer(): Promise<TestPem>;
  /** Revokes a certificate this CA issued and returns the path of a fresh PEM CRL listing every revocation. */
  revoke(cert: TestPem): Promise<string>;
  /** Writes a fresh PEM CRL of this CA listing the revocations so far; returns its path. */
  crlFile(): Promise<string>;
  /** Removes the folder when makeTestPki created it (a caller-provided folder is left alone). */
  dispose(): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-noenc'];

// `openssl ca` is used only because `openssl x509` (OpenSSL 3.0) cannot set explicit past dates.
const CA_CONFIG = `[ ca ]
default_ca = test_ca
[ test_ca ]
database = index.txt
new_certs_dir = issued
serial = serial
crlnumber = crlnumber
default_crl_days = 30
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = supplied
`;

const SERVER_EXT = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
`;

const CLIENT_EXT = `basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
`;

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${err.stderr?.trim() || err.message}`);
  }
}

function pem(dir: string, name: string): TestPem {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/**
 * Creates a throw-away PKI with the `openssl` CLI (EC P-256 keys, so it takes well under a second):
 * a root CA, a server certificate for localhost, a client certificate, an expired server certificate
 * and a key that matches nothing. Files land in `dir` (created if missing) or a fresh temp folder.
 */
export async function makeTestPki(dir?: string): Promise<TestPki> {
  const owned = dir === undefined;
  const root = dir ?? mkdtempSync(join(tmpdir(), 'tapgate-pki-'));
  mkdirSync(join(root, 'issued'), { recursive: true });
  writeFileSync(join(root, 'ca.cnf'), CA_CONFIG);
  writeFileSync(join(root, 'index.txt'), '');
  writeFileSync(join(root, 'serial'), '1000\n');
  writeFileSync(join(root, 'crlnumber'), '1000\n');
  writeFileSync(join(root, 'server.ext'), SERVER_EXT);
  writeFileSync(join(root, 'client.ext'), CLIENT_EXT);

  await openssl(root, [
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '3650',
    '-subj',
    '/CN=Tapgate Test Root CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);

  const request = (name: string, cn: string) =>
    openssl(root, [
      'req',
      '-new',
      ...EC_KEY,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ]);
  await Promise.all([
    request('server', 'localhost'),
    request('client', 'tapgate-test-client'),
    request('expired-server', 'localhost'),
    openssl(root, [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-out',
      'mismatched.key',
    ]),
  ]);

  // `openssl ca` keeps a serial file and database, so certificates are issued one after another.
  const issue = (name: string, ext: string, dates: string[]) =>
    openssl(root, [
      'ca',
      '-batch',
      '-notext',
      '-config',
      'ca.cnf',
      '-cert',
      'ca.crt',
      '-keyfile',
      'ca.key',
      '-in',
      `${name}.csr`,
      '-out',
      `${name}.crt`,
      '-extfile',
      ext,
      ...dates,
    ]);
  await issue('server', 'server.ext', ['-days', '825']);
  await issue('client', 'client.ext', ['-days', '825']);
  await issue('expired-server', 'server.ext', [
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
  ]);

  const mismatchedKeyFile = join(root, 'mismatched.key');
  // `openssl ca` keeps one database; callers may issue concurrently, so issuance is serialised here.
  let queue: Promise<unknown> = Promise.resolve();
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const next = queue.then(job, job);
    queue = next.catch(() => undefined);
    return next;
  };
  const crl = () =>
    serial(async () => {
      await openssl(root, [
        'ca',
        '-batch',
        '-config',
        'ca.cnf',
        '-cert',
        'ca.crt',
        '-keyfile',
        'ca.key',
        '-gencrl',
        '-out',
        'ca.crl',
      ]);
      return join(root, 'ca.crl');
    });
  return {
    dir: root,
    ca: pem(root, 'ca'),
    server: pem(root, 'server'),
    client: pem(root, 'client'),
    expiredServer: pem(root, 'expired-server'),
    mismatchedKey: { keyFile: mismatchedKeyFile, key: readFileSync(mismatchedKeyFile, 'utf8') },
    issueClient: (cn) =>
      serial(async () => {
        const name = `client-${createHash('sha256').update(cn).digest('hex').slice(0, 16)}`;
        await request(name, cn);
        await issue(name, 'client.ext', ['-days', '825']);
        const issued = pem(root, name);
        return {
          ...issued,
          sha256: new X509Certificate(issued.cert).fingerprint256.replaceAll(':', '').toLowerCase(),
        };
      }),
    issueRsaServer: () =>
      serial(async () => {
        await openssl(root, [
          'req',
          '-new',
          '-newkey',
          'rsa:2048',
          '-noenc',
          '-keyout',
          'rsa-server.key',
          '-out',
          'rsa-server.csr',
          '-subj',
          '/CN=localhost',
        ]);
        await issue('rsa-server', 'server.ext', ['-days', '825']);
        return pem(root, 'rsa-server');
      }),
    revoke: async (cert) => {
      await serial(() =>
        openssl(root, [
          'ca',
          '-batch',
          '-config',
          'ca.cnf',
          '-cert',
          'ca.crt',
          '-keyfile',
          'ca.key',
          '-revoke',
          cert.certFile,
        ]),
      );
      return crl();
    },
    crlFile: crl,
    dispose() {
      if (owned) rmSync(root, { recursive: true, force: true });
    },
  };
}
