import type { Histogram } from '@opentelemetry/api';
import type { UserRef } from '@tapgate/contracts';
import { createLogger, getMeter, type Logger } from '@tapgate/telemetry';
import {
  TOKEN_GROUPS,
  boundUserFilter,
  checkLdapTrust,
  groupDnsBySid,
  guidFromBytes,
  sidFromBytes,
  tokenGroupSids,
  userFilter,
} from '@tapgate/ldap';
import type { Client, Entry, Filter } from 'ldapts';
import { ATTR } from '../status/rules';
import {
  DirectoryError,
  HealthTracker,
  type BoundLookup,
  type Directory,
  type DirectoryEntry,
  type DirectoryHealth,
} from './directory';

import { LdapPool, isConnectionError, type LdapConnectionOptions } from './ldap-pool';

export interface LdapDirectoryOptions extends LdapConnectionOptions {
  /** Where users are searched (subtree), e.g. DC=corp,DC=example. */
  baseDn: string;
}

const SEARCH_ATTRIBUTES = [
  'sAMAccountName',
  'userPrincipalName',
  'displayName',
  ATTR.userAccountControl,
  ATTR.pwdLastSet,
  ATTR.accountExpires,
  'lockoutTime',
  'memberOf',
  'objectGUID',
  'objectSid',
];
/** Binary attributes: ldapts returns them as Buffers only when asked to. */
const BINARY_ATTRIBUTES = ['objectGUID', 'objectSid'];

/** Single-valued string attributes only; ldapts returns absent ones as []. */
function text(entry: Entry, name: string): string | undefined {
  const v = entry[name];
  return typeof v === 'string' ? v : undefined;
}

/** A single-valued binary attribute, or undefined. */
function binary(entry: Entry, name: string): Buffer | undefined {
  const v = entry[name];
  return Buffer.isBuffer(v) ? v : undefined;
}

/** The entry's objectGUID as text; AD always has one, so its absence is a protocol problem. */
function guidOf(entry: Entry): string {
  const bytes = binary(entry, 'objectGUID');
  if (bytes?.length !== 16) throw new DirectoryError('protocol', 'directory entry has no objectGUID');
  return guidFromBytes(bytes);
}

/** A multi-valued string attribute (memberOf) as a list. */
function multi(entry: Entry, name: string): string[] {
  const v = entry[name];
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Reads account states from Active Directory: a subtree search by sAMAccountName, userPrincipalName or
 * objectGUID (filters from @tapgate/ldap, values sent as exact octets), then a base-scope search on the user's DN for
 * msDS-User-Account-Control-Computed, which Windows computes only on base-scope reads.
 */
export class LdapDirectory implements Directory {
  readonly kind = 'ldap';
  private readonly pool: LdapPool;
  private readonly tracker = new HealthTracker();
  private readonly latency: Histogram;
  private readonly log: Logger = createLogger('LdapDirectory');

  constructor(private readonly opts: LdapDirectoryOptions) {
    this.pool = new LdapPool(opts);
    this.latency = getMeter().createHistogram('tapgate.ldap.latency', {
      description:
        'Time to read one user from the directory (both searches, including waiting for a connection)',
      unit: 'ms',
    });
  }

  health(): DirectoryHealth {
    return this.tracker.get();
  }

  /**
   * Opens one TLS connection and checks the directory's certificate (CA and host name), then binds with
   * the service account. Throws LdapTrustError for a certificate problem (the caller stops the service);
   * an unreachable directory or a rejected bind only marks health down, as a failed lookup would.
   */
  async probe(): Promise<void> {
    await checkLdapTrust({
      url: this.opts.url,
      ca: this.opts.ca,
      startTls: this.opts.startTls,
      timeoutMs: this.opts.connectTimeoutMs,
    }).catch((e: unknown) => {
      if ((e as Error).name === 'LdapTrustError') throw e;
      this.tracker.down((e as Error).message);
    });
    if (this.tracker.get().state === 'down') return;
    await this.measured(() => this.pool.use(async () => null)).catch(() => undefined);
  }

  lookup(user: UserRef): Promise<DirectoryEntry | null> {
    return this.measured((client) => this.findOne(client, userFilter(user)));
  }

  lookupBound(objectGUID: string, name: UserRef): Promise<BoundLookup> {
    return this.measured(
      async (client) => {
        // One subtree search finds both the bound object and the current holder of the name.
        const found = await this.search(client, boundUserFilter(objectGUID, name), 3);
        const bound = found.find((e) => guidOf(e) === objectGUID);
        const wanted = (
          'sAMAccountName' in name ? name.sAMAccountName : name.userPrincipalName
        ).toLowerCase();
        const attr = 'sAMAccountName' in name ? 'sAMAccountName' : 'userPrincipalName';
        const holder = found.find((e) => text(e, attr)?.toLowerCase() === wanted);
        const entry = bound ? await this.complete(client, bound) : null;
        if (!holder) return { entry, name: 'free' as const };
        const holderGUID = guidOf(holder);
        if (holderGUID === objectGUID) return { entry, name: 'same' as const };
        return { entry, name: 'other' as const, otherGUID: holderGUID };
      },
      (r) => (r.entry ? 'found' : 'not_found'),
    );
  }

  /** Runs a read on a pooled connection, recording its latency and the directory's health. */
  private async measured<T>(
    fn: (client: Client) => Promise<T>,
    result: (r: T) => string = (r) => (r ? 'found' : 'not_found'),
  ): Promise<T> {
    const started = performance.now();
    try {
      const out = await this.pool.use(fn);
      this.latency.record(performance.now() - started, { result: result(out) });
      this.tracker.up();
      return out;
    } catch (e) {
      this.latency.record(performance.now() - started, { result: 'error' });
      const err = this.classify(e);
      if (err.kind !== 'ambiguous') {
        const wasUp = this.tracker.get().state !== 'down';
        this.tracker.down(err.message);
        // Log the transition at warn and repeats at debug, so an outage does not flood the log.
        this.log[wasUp ? 'warn' : 'debug'](
          { kind: err.kind, url: this.opts.url },
          `directory unavailable: ${err.message}`,
        );
      } else {
        this.log.warn({ kind: err.kind }, err.message);
      }
      throw err;
    }
  }

  private async search(client: Client, filter: Filter, sizeLimit: number): Promise<Entry[]> {
    const found = await client.search(this.opts.baseDn, {
      scope: 'sub',
      filter,
      attributes: SEARCH_ATTRIBUTES,
      explicitBufferAttributes: BINARY_ATTRIBUTES,
      sizeLimit,
      timeLimit: Math.max(1, Math.ceil(this.opts.timeoutMs / 1000)),
    });
    return found.searchEntries;
  }

  private async findOne(client: Client, filter: Filter): Promise<DirectoryEntry | null> {
    const found = await this.search(client, filter, 2);
    if (found.length === 0) return null;
    if (found.length > 1) {
      throw new DirectoryError('ambiguous', `${found.length} directory entries match one user`);
    }
    return this.complete(client, found[0]);
  }

  /** Adds msDS-User-Account-Control-Computed, which Windows computes only on a base-scope read. */
  private async complete(client: Client, e: Entry): Promise<DirectoryEntry | null> {
    const timeLimit = Math.max(1, Math.ceil(this.opts.timeoutMs / 1000));
    const base = await client.search(e.dn, {
      scope: 'base',
      filter: '(objectClass=*)',
      attributes: [ATTR.computed, TOKEN_GROUPS],
      explicitBufferAttributes: [TOKEN_GROUPS],
    });
    if (base.searchEntries.length !== 1) return null; // deleted between the two reads
    const sAMAccountName = text(e, 'sAMAccountName');
    if (!sAMAccountName) throw new DirectoryError('protocol', 'directory entry has no sAMAccountName');
    const attributes: Record<string, string> = { dn: e.dn };
    for (const name of [ATTR.userAccountControl, ATTR.pwdLastSet, ATTR.accountExpires, 'lockoutTime']) {
      const v = text(e, name);
      if (v !== undefined) attributes[name] = v;
    }
    const computed = text(base.searchEntries[0], ATTR.computed);
    if (computed !== undefined) attributes[ATTR.computed] = computed;
    const objectGUID = guidOf(e);
    const sid = binary(e, 'objectSid');
    const objectSid = sid ? sidFromBytes(sid) : undefined;
    attributes.objectGUID = objectGUID;
    if (objectSid) attributes.objectSid = objectSid;
    return {
      user: {
        sAMAccountName,
        userPrincipalName: text(e, 'userPrincipalName'),
        displayName: text(e, 'displayName'),
        dn: e.dn,
      },
      attributes,
      // Direct, nested and primary groups, for group policies (docs/architecture.md: group matching).
      groups: [
        ...new Set([
          ...multi(e, 'memberOf'),
          ...(await groupDnsBySid(
            client,
            this.opts.baseDn,
            tokenGroupSids(base.searchEntries[0]),
            timeLimit,
          )),
        ]),
      ],
      identity: { objectGUID, ...(objectSid ? { objectSid } : {}) },
    };
  }

  /** Maps any failure to a DirectoryError whose message holds no secret. */
  private classify(e: unknown): DirectoryError {
    const redact = (s: string) =>
      this.opts.bindPassword ? s.split(this.opts.bindPassword).join('[redacted]') : s;
    if (e instanceof DirectoryError) return new DirectoryError(e.kind, redact(e.message));
    const err = e instanceof Error ? e : new Error(String(e));
    const code = (err as NodeJS.ErrnoException).code;
    const detail = redact(code ? `${code}: ${err.message}` : `${err.name}: ${err.message}`).split('\n')[0];
    if (/timed? ?out/i.test(err.message) || code === 'ETIMEDOUT') {
      return new DirectoryError('timeout', detail);
    }
    if (code?.startsWith('ERR_TLS') || /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)/.test(code ?? '')) {
      // Node's own text suggests --use-system-ca, which is not the fix: name the settings instead.
      return new DirectoryError(
        'unreachable',
        `${code}: the directory's certificate is not trusted or does not name the URL host (check [ldap].ca_file and the host in [ldap].url)`,
      );
    }
    if (isConnectionError(err) || /certificate|self.signed|SSL/i.test(err.message)) {
      return new DirectoryError('unreachable', detail);
    }
    return new DirectoryError('protocol', detail);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
