import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Bump when the recipe below changes, so cached templates made by an older recipe are not reused. */
const RECIPE_VERSION = 1;

export const SAMBA_REALM = 'test.local';
export const SAMBA_BASE_DN = 'DC=test,DC=local';
export const SAMBA_ADMIN_PASSWORD = 'Passw0rd!Passw0rd';
/** Password of every seeded user (meets Samba's default complexity rules). */
export const SAMBA_USER_PASSWORD = 'Secr3t!Pass1';

export interface SambaPaths {
  /** Parent folder restored from the template; fixed, because the provisioned files hold absolute paths. */
  root: string;
  dc: string;
  conf: string;
  caFile: string;
  log: string;
}

export function sambaPaths(): SambaPaths {
  const root = join(tmpdir(), 'tapgate-samba');
  const dc = join(root, 'dc');
  return {
    root,
    dc,
    conf: join(dc, 'etc', 'smb.conf'),
    caFile: join(dc, 'tls', 'ca.pem'),
    log: join(root, 'samba.log'),
  };
}

const MISSING_PACKAGES =
  'Samba AD packages are missing. Install them with `sudo scripts/setup.sh --with-samba` ' +
  '(samba samba-ad-dc samba-ad-provision samba-dsdb-modules python3-samba ldb-tools faketime).';

/** Finds a binary in the usual places (root's PATH has /usr/sbin, a user's often has not). */
export function sambaBinary(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error(`${MISSING_PACKAGES} (${name} not found)`);
}

/** Fails with a clear message when the machine cannot run a Samba domain controller. */
export function checkSambaPrerequisites(): void {
  for (const bin of ['samba', 'samba-tool', 'faketime', 'openssl', 'tar']) sambaBinary(bin);
  if (!existsSync('/usr/share/samba/setup/ad-schema')) {
    throw new Error(`${MISSING_PACKAGES} (samba-ad-provision)`);
  }
  if (process.getuid?.() !== 0) {
    throw new Error('Samba AD DC tests must run as root (samba binds ports 389/636)');
  }
}

async function sambaVersion(): Promise<string> {
  const { stdout } = await run(sambaBinary('samba'), ['--version']);
  return stdout.trim().replace(/^Version\s+/i, '');
}

async function templatePath(): Promise<string> {
  const version = (await sambaVersion()).replace(/[^A-Za-z0-9.+-]/g, '_');
  return join(tmpdir(), `tapgate-samba-template-${version}-r${RECIPE_VERSION}.tar`);
}

async function makeTls(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const openssl = sambaBinary('openssl');
  const o = (args: string[]) => run(openssl, args, { cwd: dir });
  await o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  await o([
    'req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '3650',
    '-subj', '/CN=Tapgate test AD CA', '-out', 'ca.pem',
  ]); // prettier-ignore
  await o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'server.key']);
  await o(['req', '-new', '-key', 'server.key', '-subj', '/CN=dc1.test.local', '-out', 'server.csr']);
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=DNS:dc1.test.local,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n',
  );
  await o([
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '3650', '-sha256', '-extfile', 'ext.cnf', '-out', 'server.pem',
  ]); // prettier-ignore
  // Samba refuses a TLS key that others can read.
  chmodSync(join(dir, 'server.key'), 0o600);
  chmodSync(join(dir, 'ca.key'), 0o600);
}

/**
 * Provision drops most --option values, so smb.conf is patched afterwards: plain simple binds allowed
 * (tests also cover ldap://), only the LDAP server, every runtime path inside the private folder (so
 * no system Samba state is touched) and our own certificate with an IP SAN for 127.0.0.1.
 */
function patchSmbConf(p: SambaPaths): void {
  const tls = join(p.dc, 'tls');
  const extra = [
    'ldap server require strong auth = no',
    'server services = ldap',
    `pid directory = ${join(p.dc, 'run')}`,
    `ncalrpc dir = ${join(p.dc, 'run', 'ncalrpc')}`,
    `winbindd socket directory = ${join(p.dc, 'run', 'winbindd')}`,
    `ntp signd socket directory = ${join(p.dc, 'run', 'ntp_signd')}`,
    `log file = ${join(p.dc, 'log', 'log.%m')}`,
    'tls enabled = yes',
    `tls keyfile = ${join(tls, 'server.key')}`,
    `tls certfile = ${join(tls, 'server.pem')}`,
    `tls cafile = ${join(tls, 'ca.pem')}`,
  ];
  const lines = readFileSync(p.conf, 'utf8')
    .split('\n')
    .filter((l) => !/^\s*(log file|server services)\s*=/.test(l));
  const at = lines.findIndex((l) => l.trim() === '[global]');
  lines.splice(at + 1, 0, ...extra.map((l) => `\t${l}`));
  writeFileSync(p.conf, lines.join('\n'));
}

async function buildTemplate(p: SambaPaths, template: string): Promise<void> {
  rmSync(p.root, { recursive: true, force: true });
  mkdirSync(p.dc, { recursive: true });
  await run(
    sambaBinary('samba-tool'),
    [
      'domain', 'provision', '--realm=TEST.LOCAL', '--domain=TEST', '--server-role=dc', '--dns-backend=NONE',
      '--use-rfc2307', '--host-name=dc1', `--adminpass=${SAMBA_ADMIN_PASSWORD}`, `--targetdir=${p.dc}`,
      '--option=interfaces = lo', '--option=bind interfaces only = yes',
    ], // prettier-ignore
    { maxBuffer: 16 * 1024 * 1024 },
  );
  for (const d of ['run', 'log', 'cache']) mkdirSync(join(p.dc, d), { recursive: true });
  patchSmbConf(p);
  await makeTls(join(p.dc, 'tls'));
  const tool = sambaBinary('samba-tool');
  const s = ['-s', p.conf];
  await run(tool, ['domain', 'passwordsettings', 'set', '--account-lockout-threshold=3', ...s]);
  // Samba will not expire a password in under a day; a user created 50 days in the past (max age 42)
  // is password-expired. samba-tool writes sam.ldb directly, so this needs no running server.
  await run(sambaBinary('faketime'), [
    '-f',
    '-50d',
    tool,
    'user',
    'create',
    'grace',
    SAMBA_USER_PASSWORD,
    ...s,
  ]);
  const tmp = `${template}.${process.pid}.tmp`;
  await run(sambaBinary('tar'), ['-cf', tmp, '-C', join(p.root, '..'), 'tapgate-samba']);
  renameSync(tmp, template);
}

/**
 * Leaves a freshly provisioned domain in `paths.root`: restored from the cached template tarball when
 * there is one for this Samba version (0.2 s), else provisioned (about 7 s) and cached for next time.
 */
export async function prepareSambaDomain(p: SambaPaths): Promise<{ restored: boolean }> {
  const template = await templatePath();
  if (!existsSync(template)) {
    await buildTemplate(p, template);
    return { restored: false };
  }
  rmSync(p.root, { recursive: true, force: true });
  await run(sambaBinary('tar'), ['-xf', template, '-C', join(p.root, '..')]);
  return { restored: true };
}
