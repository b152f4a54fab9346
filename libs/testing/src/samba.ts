import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { sleep } from './ports';
import { canConnect } from './process';
import {
  SAMBA_ADMIN_PASSWORD,
  SAMBA_BASE_DN,
  SAMBA_REALM,
  SAMBA_USER_PASSWORD,
  checkSambaPrerequisites,
  prepareSambaDomain,
  sambaBinary,
  sambaPaths,
  type SambaPaths,
} from './samba-provision';

export { SAMBA_USER_PASSWORD } from './samba-provision';

/** LDAP ports are fixed: Samba cannot listen elsewhere, so only one instance runs per network namespace. */
export const SAMBA_LDAP_PORT = 389;
export const SAMBA_LDAPS_PORT = 636;

/** The seeded users and the account state each one is in (see /work/shared/reference/samba-ad.md). */
export const SEEDED_USERS = {
  alice: 'active',
  bob: 'disabled',
  carol: 'account_expired',
  dave: 'must_change_password',
  eve: 'locked_out',
  grace: 'password_expired',
} as const;
export type SeededUser = keyof typeof SEEDED_USERS;

export interface CreateUserOptions {
  password?: string;
  displayName?: string;
  disabled?: boolean;
  mustChangePassword?: boolean;
  /** When the account expires; a past date makes it expired at once. */
  accountExpires?: Date;
  /** The CN (so the DN) when it differs from the sAMAccountName (default: the sAMAccountName). */
  cn?: string;
  /** The userPrincipalName (default: <sAMAccountName>@test.local). */
  userPrincipalName?: string;
}

export interface SambaAd {
  /** ldap://127.0.0.1:389 (StartTLS available) */
  readonly url: string;
  /** ldaps://127.0.0.1:636 */
  readonly ldapsUrl: string;
  /** PEM CA that signed the DC's certificate (SANs: 127.0.0.1, localhost, dc1.test.local). */
  readonly caFile: string;
  readonly ca: string;
  readonly baseDn: string;
  readonly usersDn: string;
  readonly realm: string;
  readonly adminDn: string;
  readonly adminPassword: string;
  /** A plain domain user (password never expires) for services to bind with. */
  readonly serviceAccount: {
    dn: string;
    userPrincipalName: string;
    sAMAccountName: string;
    password: string;
  };
  /** Whether this start restored the cached provisioned template (false: provisioned from scratch). */
  readonly restoredFromTemplate: boolean;
  /** Milliseconds from call to seeded, for the record. */
  readonly startupMs: number;
  pid(): number | undefined;
  /** Stops samba (the domain's files stay; `start()` brings it back as it was). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops samba, removes its files and releases the lock other test processes wait on. */
  dispose(): Promise<void>;
  userDn(sAMAccountName: string): string;
  /** Creates a user over LDAPS as Administrator; returns its DN. */
  createUser(sAMAccountName: string, opts?: CreateUserOptions): Promise<string>;
  disableUser(sAMAccountName: string): Promise<void>;
  enableUser(sAMAccountName: string): Promise<void>;
  expireAccount(sAMAccountName: string, at?: Date): Promise<void>;
  setMustChangePassword(sAMAccountName: string): Promise<void>;
  /** Locks the account out with real failed binds (threshold 3). */
  lockOut(sAMAccountName: string): Promise<void>;
  unlock(sAMAccountName: string): Promise<void>;
  deleteUser(sAMAccountName: string): Promise<void>;
  /** Deletes the object at this DN (a user created with a `cn`). */
  deleteDn(dn: string): Promise<void>;
  /** Changes an account's sAMAccountName and userPrincipalName (its DN and objectGUID stay). */
  renameAccount(dn: string, sAMAccountName: string): Promise<void>;
  /** Renames the object's CN (a modify-DN); returns the new DN. The objectGUID stays. */
  renameCn(dn: string, cn: string): Promise<string>;
  /** Reads a user's status attributes (msDS-User-Account-Control-Computed by a base-scope search). */
  readUser(sAMAccountName: string): Promise<Record<string, string>>;
  /** Runs `fn` with a client bound as Administrator over LDAPS. */
  asAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T>;
}

const LOCK_FILE = join(tmpdir(), 'tapgate-samba.lock');
/** The running samba's pid, outside the domain folder (which the next start replaces). */
const PID_FILE = join(tmpdir(), 'tapgate-samba.pid');
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000n;

/** Windows FILETIME: 100 ns intervals since 1601-01-01 UTC, as the decimal string AD stores. */
export function toFileTime(d: Date): string {
  return ((BigInt(d.getTime()) + FILETIME_EPOCH_OFFSET_MS) * 10_000n).toString();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Tests that use Samba must not overlap (fixed ports), and the runner starts test files in parallel
 * processes: a lock file holding the owner's pid serialises them. A lock whose owner died is stale.
 */
async function acquireLock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(LOCK_FILE, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = Number(readFileSync(LOCK_FILE, 'utf8').trim() || '0');
    if (owner === process.pid) {
      throw new Error('startSambaAd: this process already runs Samba; dispose() it first');
    }
    if (!owner || !alive(owner)) {
      rmSync(LOCK_FILE, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`startSambaAd: lock ${LOCK_FILE} held by pid ${owner} for too long`);
    }
    await sleep(200);
  }
}

function releaseLock(): void {
  try {
    if (readFileSync(LOCK_FILE, 'utf8').trim() === String(process.pid)) unlinkSync(LOCK_FILE);
  } catch {
    // already gone
  }
}

/**
 * A samba left running by a test process that was killed holds the fixed ports. Its pid is in our pid
 * file, so it is one this harness started: end it and wait until it is gone.
 */
async function killLeftover(): Promise<void> {
  if (!existsSync(PID_FILE)) return;
  const pid = Number(readFileSync(PID_FILE, 'utf8').trim());
  rmSync(PID_FILE, { force: true });
  if (!pid || !alive(pid)) return;
  let exe = '';
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return;
  }
  if (!exe.endsWith('/samba')) return; // the pid was reused by something else
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
}

class SambaProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private output = '';

  constructor(private readonly paths: SambaPaths) {}

  pid(): number | undefined {
    return this.child?.pid;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    if (this.child) return;
    if (await canConnect(SAMBA_LDAP_PORT)) {
      throw new Error(`startSambaAd: port ${SAMBA_LDAP_PORT} is already in use by another process`);
    }
    // -i keeps samba in the foreground as our direct child, so stop() can signal it by pid.
    const child = spawn(sambaBinary('samba'), ['-i', '-M', 'single', '-s', this.paths.conf], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.output = '';
    const keep = (b: Buffer) => (this.output = (this.output + b.toString()).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    let gone = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        gone = true;
        process.removeListener('exit', killOnExit);
        resolve();
      }),
    );
    this.child = child;
    writeFileSync(PID_FILE, String(child.pid));
    const deadline = Date.now() + timeoutMs;
    while (!(await this.ldapAnswers())) {
      if (gone || Date.now() > deadline) {
        await this.stop();
        throw new Error(`samba did not start:\n${this.output}`);
      }
      await sleep(50);
    }
  }

  private async ldapAnswers(): Promise<boolean> {
    if (!(await canConnect(SAMBA_LDAP_PORT)) || !(await canConnect(SAMBA_LDAPS_PORT))) return false;
    const c = new Client({ url: `ldap://127.0.0.1:${SAMBA_LDAP_PORT}`, timeout: 2000, connectTimeout: 1000 });
    try {
      const r = await c.search('', { scope: 'base', attributes: ['dnsHostName'] });
      return r.searchEntries.length === 1;
    } catch {
      return false;
    } finally {
      await c.unbind().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    rmSync(PID_FILE, { force: true });
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
    // Wait for the kernel to free the fixed ports before anyone restarts.
    while (await canConnect(SAMBA_LDAP_PORT)) await sleep(20);
  }
}

/**
 * Starts a Samba AD domain controller on 127.0.0.1:389/636 (realm test.local) and seeds the users of
 * SEEDED_USERS over LDAPS: alice active, bob disabled, carol account expired, dave must change his
 * password, eve locked out by three real failed binds, grace password expired (created 50 days in the
 * past with faketime, in the cached template). Waits while another test process holds Samba.
 */
export async function startSambaAd(opts: { lockTimeoutMs?: number } = {}): Promise<SambaAd> {
  const began = Date.now();
  checkSambaPrerequisites();
  await acquireLock(opts.lockTimeoutMs ?? 600_000);
  const p = sambaPaths();
  const proc = new SambaProcess(p);
  try {
    await killLeftover();
    const { restored } = await prepareSambaDomain(p);
    await proc.start();
    const ad = makeHandle(p, proc, restored, began);
    await seed(ad);
    return Object.assign(ad, { startupMs: Date.now() - began });
  } catch (e) {
    await proc.stop();
    releaseLock();
    throw e;
  }
}

function makeHandle(p: SambaPaths, proc: SambaProcess, restored: boolean, began: number): SambaAd {
  const usersDn = `CN=Users,${SAMBA_BASE_DN}`;
  const ca = readFileSync(p.caFile, 'utf8');
  const ldapsUrl = `ldaps://127.0.0.1:${SAMBA_LDAPS_PORT}`;
  const userDn = (sam: string) => `CN=${sam},${usersDn}`;
  const replace = (type: string, value: string) =>
    new Change({ operation: 'replace', modification: new Attribute({ type, values: [value] }) });

  const asAdmin = async <T>(fn: (client: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ url: ldapsUrl, tlsOptions: { ca, minVersion: 'TLSv1.2' }, timeout: 10_000 });
    try {
      await client.bind(`Administrator@${SAMBA_REALM}`, SAMBA_ADMIN_PASSWORD);
      return await fn(client);
    } finally {
      await client.unbind().catch(() => undefined);
    }
  };
  const modify = (sam: string, type: string, value: string) =>
    asAdmin((c) => c.modify(userDn(sam), replace(type, value)));
  const readUac = async (sam: string): Promise<number> => Number((await ad.readUser(sam)).userAccountControl);

  const ad: SambaAd = {
    url: `ldap://127.0.0.1:${SAMBA_LDAP_PORT}`,
    ldapsUrl,
    caFile: p.caFile,
    ca,
    baseDn: SAMBA_BASE_DN,
    usersDn,
    realm: SAMBA_REALM,
    adminDn: userDn('Administrator'),
    adminPassword: SAMBA_ADMIN_PASSWORD,
    serviceAccount: {
      dn: userDn('svc-tapgate'),
      userPrincipalName: `svc-tapgate@${SAMBA_REALM}`,
      sAMAccountName: 'svc-tapgate',
      password: 'Svc!Bind-Pass9',
    },
    restoredFromTemplate: restored,
    startupMs: Date.now() - began,
    pid: () => proc.pid(),
    stop: () => proc.stop(),
    start: () => proc.start(),
    async dispose() {
      await proc.stop();
      rmSync(p.root, { recursive: true, force: true });
      releaseLock();
    },
    userDn,
    async createUser(sam, o = {}) {
      const dn = o.cn ? `CN=${o.cn},${usersDn}` : userDn(sam);
      // AD takes unicodePwd only over an encrypted connection, as the UTF-16LE of the quoted password.
      const pwd = Buffer.from(`"${o.password ?? SAMBA_USER_PASSWORD}"`, 'utf16le');
      await asAdmin(async (c) => {
        await c.add(dn, [
          new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
          new Attribute({ type: 'sAMAccountName', values: [sam] }),
          new Attribute({
            type: 'userPrincipalName',
            values: [o.userPrincipalName ?? `${sam}@${SAMBA_REALM}`],
          }),
          new Attribute({ type: 'displayName', values: [o.displayName ?? sam] }),
          new Attribute({ type: 'unicodePwd', values: [pwd] }),
          new Attribute({ type: 'userAccountControl', values: [o.disabled ? '514' : '512'] }),
        ]);
        if (o.mustChangePassword) await c.modify(dn, replace('pwdLastSet', '0'));
        if (o.accountExpires) await c.modify(dn, replace('accountExpires', toFileTime(o.accountExpires)));
      });
      return dn;
    },
    async disableUser(sam) {
      await modify(sam, 'userAccountControl', String((await readUac(sam)) | 0x2));
    },
    async enableUser(sam) {
      await modify(sam, 'userAccountControl', String((await readUac(sam)) & ~0x2));
    },
    expireAccount: (sam, at = new Date(Date.now() - 86_400_000)) =>
      modify(sam, 'accountExpires', toFileTime(at)),
    setMustChangePassword: (sam) => modify(sam, 'pwdLastSet', '0'),
    async lockOut(sam) {
      for (let i = 0; i < 3; i++) {
        const c = new Client({ url: ldapsUrl, tlsOptions: { ca }, timeout: 5_000 });
        await c.bind(`${sam}@${SAMBA_REALM}`, 'not-the-password').catch(() => undefined);
        await c.unbind().catch(() => undefined);
      }
    },
    unlock: (sam) => modify(sam, 'lockoutTime', '0'),
    deleteUser: (sam) => asAdmin((c) => c.del(userDn(sam))),
    deleteDn: (dn) => asAdmin((c) => c.del(dn)),
    renameAccount: (dn, sam) =>
      asAdmin(async (c) => {
        await c.modify(dn, [
          replace('sAMAccountName', sam),
          replace('userPrincipalName', `${sam}@${SAMBA_REALM}`),
        ]);
      }),
    async renameCn(dn, cn) {
      await asAdmin((c) => c.modifyDN(dn, `CN=${cn}`));
      return `CN=${cn},${dn.slice(dn.indexOf(',') + 1)}`;
    },
    readUser: (sam) =>
      asAdmin(async (c) => {
        const attrs = [
          'sAMAccountName',
          'userPrincipalName',
          'userAccountControl',
          'pwdLastSet',
          'accountExpires',
        ];
        const [sub, base] = await Promise.all([
          c.search(userDn(sam), { scope: 'base', attributes: attrs }),
          c.search(userDn(sam), { scope: 'base', attributes: ['msDS-User-Account-Control-Computed'] }),
        ]);
        const out: Record<string, string> = {};
        for (const e of [...sub.searchEntries, ...base.searchEntries]) {
          for (const [k, v] of Object.entries(e)) if (typeof v === 'string') out[k] = v;
        }
        return out;
      }),
    asAdmin,
  };
  return ad;
}

async function seed(ad: SambaAd): Promise<void> {
  const svc = ad.serviceAccount;
  await ad.asAdmin(async (c) => {
    await c.add(svc.dn, [
      new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
      new Attribute({ type: 'sAMAccountName', values: [svc.sAMAccountName] }),
      new Attribute({ type: 'userPrincipalName', values: [svc.userPrincipalName] }),
      new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${svc.password}"`, 'utf16le')] }),
      // 0x10000: the password never expires, so the service account outlives the 42-day policy.
      new Attribute({ type: 'userAccountControl', values: [String(0x200 | 0x10000)] }),
    ]);
  });
  await ad.createUser('alice', { displayName: 'Alice Active' });
  await ad.createUser('bob', { displayName: 'Bob Disabled', disabled: true });
  await ad.createUser('carol', {
    displayName: 'Carol Expired',
    accountExpires: new Date(Date.now() - 86_400_000),
  });
  await ad.createUser('dave', { displayName: 'Dave Must-Change', mustChangePassword: true });
  await ad.createUser('eve', { displayName: 'Eve Locked-Out' });
  await ad.lockOut('eve');
}

/** The [ldap] settings for a service to use this domain over LDAPS with its service account. */
export function sambaLdapSettings(samba: SambaAd): {
  url: string;
  baseDn: string;
  bindDn: string;
  bindPassword: string;
  caFile: string;
} {
  return {
    url: samba.ldapsUrl,
    baseDn: samba.baseDn,
    bindDn: samba.serviceAccount.dn,
    bindPassword: samba.serviceAccount.password,
    caFile: samba.caFile,
  };
}

/**
 * Creates a user (password SAMBA_USER_PASSWORD) and an AD group with that user as its direct member, over
 * LDAPS as Administrator: an administrator for the console and the policy API. Returns the group's DN.
 */
export async function createGroupMember(
  samba: SambaAd,
  group: string,
  sAMAccountName: string,
  displayName = 'Tapgate Console Admin',
): Promise<string> {
  const userDn = await samba.createUser(sAMAccountName, { displayName });
  const groupDn = `CN=${group},${samba.usersDn}`;
  await samba.asAdmin(async (c) => {
    await c.add(groupDn, [
      new Attribute({ type: 'objectClass', values: ['top', 'group'] }),
      new Attribute({ type: 'sAMAccountName', values: [group] }),
    ]);
    await c.modify(
      groupDn,
      new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn] }) }),
    );
  });
  return groupDn;
}
