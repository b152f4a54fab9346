import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AdminAuthenticator, Principal } from './principal';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Whether `presented` is `expected`, in a time that depends on neither (both are hashed first). */
export function tokenMatches(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  return BEARER.exec(header)?.[1];
}

/**
 * The break-glass administrator ([policy].admin_token_file, off unless configured):
 * `Authorization: Bearer <token>`. Both sides are hashed first so the comparison takes the same time
 * whatever the length or content of the presented token.
 */
export class AdminTokenAuthenticator implements AdminAuthenticator {
  private readonly expected: Buffer;

  constructor(
    token: string,
    private readonly name: string,
  ) {
    this.expected = digest(token);
  }

  authenticate(req: IncomingMessage): Principal | undefined {
    const token = bearerToken(req);
    if (!token) return undefined;
    return timingSafeEqual(digest(token), this.expected)
      ? { name: this.name, role: 'admin', via: 'break-glass' }
      : undefined;
  }
}
