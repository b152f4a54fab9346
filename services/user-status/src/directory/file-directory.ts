import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { ObjectGuid, type UserRef } from '@tapgate/contracts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FILETIME_NEVER, dateToFileTime } from '../status/filetime';
import { ATTR, UAC_ACCOUNTDISABLE, UAC_LOCKOUT, UAC_PASSWORD_EXPIRED } from '../status/rules';
import {
  HealthTracker,
  type BoundLookup,
  type Directory,
  type DirectoryEntry,
  type DirectoryHealth,
} from './directory';

export const FileUserState = z.enum([
  'active',
  'disabled',
  'locked_out',
  'password_expired',
  'must_change_password',
  'account_expired',
]);
export type FileUserState = z.infer<typeof FileUserState>;

const FileUser = z
  .object({
    sAMAccountName: z.string().min(1).max(20),
    userPrincipalName: z.string().min(3).max(256).optional(),
    displayName: z.string().max(256).optional(),
    /** The account's distinguished name; default CN=<sAMAccountName>,CN=Users,DC=tapgate,DC=local. */
    dn: z.string().min(3).max(1024).optional(),
    /** Shorthand for the AD attributes that produce this state (see stateAttributes). */
    state: FileUserState.optional(),
    /** AD attributes as AD would return them; they override what `state` implies. */
    attributes: z.record(z.string(), z.string()).optional(),
    /** AD group names or DNs, for group policies. */
    groups: z.array(z.string().min(1).max(1024)).optional(),
    /** The account's objectGUID; default: one derived from the sAMAccountName (see fileGuid). */
    objectGUID: ObjectGuid.optional(),
  })
  .strict();

export const UsersFile = z.object({ users: z.array(FileUser) }).strict();
export type UsersFile = z.infer<typeof UsersFile>;

/**
 * The AD attributes a state stands for, so file users go through the same rules as directory users
 * (and a must_change_password user carries the 0x800000 AD also sets). `since` is the file's mtime,
 * which serves as pwdLastSet and, for account_expired, as the past expiry date.
 */
export function stateAttributes(state: FileUserState, since: Date): Record<string, string> {
  const uac = 0x200 | (state === 'disabled' ? UAC_ACCOUNTDISABLE : 0);
  let computed = 0;
  if (state === 'locked_out') computed |= UAC_LOCKOUT;
  if (state === 'password_expired' || state === 'must_change_password') computed |= UAC_PASSWORD_EXPIRED;
  return {
    [ATTR.userAccountControl]: String(uac),
    [ATTR.computed]: String(computed),
    [ATTR.pwdLastSet]: state === 'must_change_password' ? '0' : dateToFileTime(since).toString(),
    [ATTR.accountExpires]:
      state === 'account_expired' ? dateToFileTime(since).toString() : FILETIME_NEVER.toString(),
  };
}

/**
 * A stable objectGUID for a file user without one: derived from the lower-cased sAMAccountName, so the
 * same user keeps it across restarts (a rename in the file is then a new object, like a re-created account).
 */
export function fileGuid(sAMAccountName: string): string {
  const h = createHash('sha256').update(`tapgate-file-user:${sAMAccountName.toLowerCase()}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface FileDirectoryOptions {
  /**
   * How often at most a lookup checks the file's modification time (ms; default 1000). Lookups come with
   * every tap, and a stat per tap showed in the profile; an edit is seen at most this much later.
   */
  recheckMs?: number;
  /** The clock for recheckMs (tests). */
  now?: () => number;
}

/**
 * Users and their states from a YAML or JSON file, for the demo and for air-gapped trials. The file is
 * read and validated when the service starts (a bad file stops it with the problem named) and read again
 * when a lookup finds its modification time changed (checked at most once per recheckMs); a later bad
 * edit keeps the last good users and reports down.
 */
export class FileDirectory implements Directory {
  readonly kind = 'file';
  private bySam = new Map<string, DirectoryEntry>();
  private byUpn = new Map<string, DirectoryEntry>();
  private byGuid = new Map<string, DirectoryEntry>();
  private loadedMtimeMs = -1;
  private readonly tracker = new HealthTracker();
  private readonly recheckMs: number;
  private readonly now: () => number;
  private checkedAt: number;

  constructor(
    private readonly path: string,
    opts: FileDirectoryOptions = {},
  ) {
    this.recheckMs = opts.recheckMs ?? 1000;
    this.now = opts.now ?? Date.now;
    this.load();
    this.checkedAt = this.now();
  }

  static parse(text: string, path: string): UsersFile {
    let raw: unknown;
    try {
      raw = parseYaml(text); // YAML is a superset of JSON, so one parser reads both
    } catch (e) {
      throw new Error(`${path}: not valid YAML or JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    const parsed = UsersFile.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new Error(`${path}: ${i.path.join('.') || '(top level)'}: ${i.message}`);
    }
    return parsed.data;
  }

  private load(): void {
    const stat = statSync(this.path);
    const mtime = stat.mtime;
    const file = FileDirectory.parse(readFileSync(this.path, 'utf8'), this.path);
    const bySam = new Map<string, DirectoryEntry>();
    const byUpn = new Map<string, DirectoryEntry>();
    const byGuid = new Map<string, DirectoryEntry>();
    for (const u of file.users) {
      const objectGUID = u.objectGUID ?? fileGuid(u.sAMAccountName);
      const entry: DirectoryEntry = {
        user: {
          sAMAccountName: u.sAMAccountName,
          userPrincipalName: u.userPrincipalName,
          displayName: u.displayName,
          // Enrollments record the DN, so file users have one too, like directory users.
          dn: u.dn ?? `CN=${u.sAMAccountName},CN=Users,DC=tapgate,DC=local`,
        },
        attributes: {
          file: basename(this.path),
          ...stateAttributes(u.state ?? 'active', mtime),
          ...u.attributes,
        },
        groups: u.groups ?? [],
        identity: { objectGUID },
      };
      const sam = u.sAMAccountName.toLowerCase();
      if (bySam.has(sam)) throw new Error(`${this.path}: users: ${u.sAMAccountName} appears twice`);
      bySam.set(sam, entry);
      if (u.userPrincipalName) byUpn.set(u.userPrincipalName.toLowerCase(), entry);
      if (byGuid.has(objectGUID)) {
        throw new Error(`${this.path}: users: objectGUID ${objectGUID} appears twice`);
      }
      byGuid.set(objectGUID, entry);
    }
    this.bySam = bySam;
    this.byUpn = byUpn;
    this.byGuid = byGuid;
    // mtimeMs, not mtime.getTime(): the latter drops the sub-millisecond part that refresh() compares.
    this.loadedMtimeMs = stat.mtimeMs;
    this.tracker.up();
  }

  private refresh(): void {
    const now = this.now();
    if (now - this.checkedAt < this.recheckMs) return;
    this.checkedAt = now;
    try {
      if (statSync(this.path).mtimeMs !== this.loadedMtimeMs) this.load();
    } catch (e) {
      this.tracker.down((e as Error).message);
    }
  }

  async lookup(user: UserRef): Promise<DirectoryEntry | null> {
    this.refresh();
    const entry = this.byName(user);
    return entry ? structuredClone(entry) : null;
  }

  async lookupBound(objectGUID: string, name: UserRef): Promise<BoundLookup> {
    this.refresh();
    const bound = this.byGuid.get(objectGUID);
    const entry = bound ? structuredClone(bound) : null;
    const holder = this.byName(name)?.identity?.objectGUID;
    if (holder === undefined) return { entry, name: 'free' };
    return holder === objectGUID ? { entry, name: 'same' } : { entry, name: 'other', otherGUID: holder };
  }

  /** AD compares account names case-insensitively; so does this. */
  private byName(user: UserRef): DirectoryEntry | undefined {
    return 'sAMAccountName' in user
      ? this.bySam.get(user.sAMAccountName.toLowerCase())
      : this.byUpn.get(user.userPrincipalName.toLowerCase());
  }

  health(): DirectoryHealth {
    return this.tracker.get();
  }

  async close(): Promise<void> {}
}
