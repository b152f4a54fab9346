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
  /** The object's immutable identity (objectGUID, objectSid as evidence). */
  identity?: { objectGUID: string; objectSid?: string };
}

/**
 * What an enrollment bound to a directory object finds: the object itself (null when it is gone) and who
 * holds the enrollment's recorded name now: that object (`same`), another object (`other`: the name was
 * re-used, never to be granted), or nobody (`free`: the object was renamed).
 */
export interface BoundLookup {
  entry: DirectoryEntry | null;
  name: 'same' | 'other' | 'free';
  /** The objectGUID of the other object holding the name, as evidence. */
  otherGUID?: string;
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
  /** The object with this objectGUID, and who now holds `name` (see BoundLookup). Throws like lookup. */
  lookupBound(objectGUID: string, name: UserRef): Promise<BoundLookup>;
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
