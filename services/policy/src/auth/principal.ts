import type { IncomingMessage } from 'node:http';

/** Who made a request; `name` is what records store as created.by / updated.by. */
export interface Principal {
  name: string;
  /** How they proved it. Admin login (LDAP bind + group, sessions) adds kinds here. */
  via: 'admin-token';
}

/**
 * One way of recognising an administrator. The guard asks each in turn; the first Principal wins.
 * Returning undefined means "not mine / not proven", never an error, so credentials never reach a log.
 */
export interface AdminAuthenticator {
  authenticate(req: IncomingMessage): Principal | undefined;
}

export const ADMIN_AUTHENTICATORS = Symbol('ADMIN_AUTHENTICATORS');

export type AuthenticatedRequest = IncomingMessage & { principal?: Principal };
