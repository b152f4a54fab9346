import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AdminAuthenticator, Principal } from './principal';

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * The stopgap administrator check: `Authorization: Bearer <token>` against the token in
 * [policy].admin_token_file. Both sides are hashed first so the comparison takes the same time whatever
 * the length or content of the presented token.
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
    const header = req.headers.authorization;
    if (typeof header !== 'string') return undefined;
    const m = BEARER.exec(header);
    if (!m?.[1]) return undefined;
    return timingSafeEqual(digest(m[1]), this.expected) ? { name: this.name, via: 'admin-token' } : undefined;
  }
}
