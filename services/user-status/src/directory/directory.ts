import type { UserRef } from '@tapgate/contracts';

export interface DirectoryUser {
  sAMAccountName: string;
  userPrincipalName?: string;
  displayName?: string;
  dn?: string;
}

/** One account as the directory holds it. */
export interface DirectoryEntry {
  user: DirectoryUser;
  /** The status attributes (userAccountControl, msDS-User-Account-Control-Computed, ...) as strings. */
  attributes: Record<string, string>;
  /** AD groups (memberOf DNs; names in a file directory), for group policies. */
  groups?: string[];
}

export interface DirectoryHealth {
  state: 'up' | 'down' | 'unknown';
  /** What failed last, without secrets. */
  detail?: string;
  /** When the state last changed (ISO time). */
  since: string;
}

/**
 * Where account states come from. `lookup` resolves null when the user does not exist and throws
 * DirectoryError when the directory could not be asked or answered something unusable.
 */
export interface Directory {
  readonly kind: 'ldap' | 'file';
  lookup(user: UserRef): Promise<DirectoryEntry | null>;
  health(): DirectoryHealth;
  close(): Promise<void>;
}

export type DirectoryErrorKind = 'unreachable' | 'timeout' | 'bind' | 'busy' | 'ambiguous' | 'protocol';

export class DirectoryError extends Error {
  override readonly name = 'DirectoryError';
  constructor(
    readonly kind: DirectoryErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Tracks up/down transitions for readiness detail. */
export class HealthTracker {
  private current: DirectoryHealth = { state: 'unknown', since: new Date().toISOString() };

  get(): DirectoryHealth {
    return { ...this.current };
  }

  up(): void {
    if (this.current.state !== 'up') this.current = { state: 'up', since: new Date().toISOString() };
  }

  down(detail: string): void {
    if (this.current.state !== 'down') {
      this.current = { state: 'down', detail, since: new Date().toISOString() };
    } else this.current.detail = detail;
  }
}
