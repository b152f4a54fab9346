import type { IncomingMessage } from 'node:http';
import { bearerToken } from './admin-token.authenticator';
import type { AdminAuthenticator, Principal } from './principal';
import type { SessionStore } from './session-store';

export const SESSION_COOKIE = 'tapgate_session';

export function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** A console session (HttpOnly cookie, CSRF-checked by the guard) or the same session as a bearer token. */
export class SessionAuthenticator implements AdminAuthenticator {
  constructor(private readonly sessions: SessionStore) {}

  async authenticate(req: IncomingMessage): Promise<Principal | undefined> {
    const bearer = bearerToken(req);
    const token = bearer ?? cookie(req, SESSION_COOKIE);
    if (!token || token.length > 128) return undefined;
    const s = await this.sessions.get(token);
    if (!s) return undefined;
    return bearer
      ? { name: s.user, role: s.role, via: 'bearer' }
      : { name: s.user, role: s.role, via: 'session', csrf: s.csrf };
  }
}
