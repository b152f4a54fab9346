import type { IncomingMessage } from 'node:http';

/** admin: everything; viewer: read-only routes. */
export type Role = 'admin' | 'viewer';

/** Who made a request; `name` is what records store as created.by / updated.by. */
export interface Principal {
  name: string;
  role: Role;
  /** How they proved it: a console session cookie, a session bearer token, or the break-glass token. */
  via: 'session' | 'bearer' | 'break-glass';
  /** The session's CSRF token (cookie sessions only). */
  csrf?: string;
}

/**
 * One way of recognising an administrator. The guard asks each in turn; the first Principal wins.
 * Returning undefined means "not mine / not proven", never an error, so credentials never reach a log.
 */
export interface AdminAuthenticator {
  authenticate(req: IncomingMessage): Principal | undefined | Promise<Principal | undefined>;
}

export const ADMIN_AUTHENTICATORS = Symbol('ADMIN_AUTHENTICATORS');

export type AuthenticatedRequest = IncomingMessage & { principal?: Principal };
