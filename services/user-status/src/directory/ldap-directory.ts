import type { Histogram } from '@opentelemetry/api';
import type { UserRef } from '@tapgate/contracts';
import { createLogger, getMeter, type Logger } from '@tapgate/telemetry';
import type { Client, Entry } from 'ldapts';
import { ATTR } from '../status/rules';
import {
  DirectoryError,
  HealthTracker,
  type Directory,
  type DirectoryEntry,
  type DirectoryHealth,
} from './directory';
import { TOKEN_GROUPS, groupDnsBySid, tokenGroupSids } from './group-expansion';
import { userFilter } from './ldap-filter';
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
];

/** Single-valued string attributes only; ldapts returns absent ones as []. */
function text(entry: Entry, name: string): string | undefined {
  const v = entry[name];
  return typeof v === 'string' ? v : undefined;
}

/** A multi-valued string attribute (memberOf) as a list. */
function multi(entry: Entry, name: string): string[] {
  const v = entry[name];
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/**
 * Reads account states from Active Directory: a subtree search by sAMAccountName or userPrincipalName
 * (filter values escaped), then a base-scope search on the user's DN for
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

  async lookup(user: UserRef): Promise<DirectoryEntry | null> {
    const started = performance.now();
    try {
      const entry = await this.pool.use((client) => this.read(client, user));
      this.latency.record(performance.now() - started, { result: entry ? 'found' : 'not_found' });
      this.tracker.up();
      return entry;
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

  private async read(client: Client, user: UserRef): Promise<DirectoryEntry | null> {
    const found = await client.search(this.opts.baseDn, {
      scope: 'sub',
      filter: userFilter(user),
      attributes: SEARCH_ATTRIBUTES,
      sizeLimit: 2,
      timeLimit: Math.max(1, Math.ceil(this.opts.timeoutMs / 1000)),
    });
    if (found.searchEntries.length === 0) return null;
    if (found.searchEntries.length > 1) {
      throw new DirectoryError('ambiguous', `${found.searchEntries.length} directory entries match one user`);
    }
    const e = found.searchEntries[0];
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
    if (
      isConnectionError(err) ||
      code?.startsWith('ERR_TLS') ||
      /certificate|self.signed|SSL/i.test(err.message)
    ) {
      return new DirectoryError('unreachable', detail);
    }
    return new DirectoryError('protocol', detail);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
