import { createHash, randomBytes } from 'node:crypto';

const CREDENTIAL_BYTES = 32;

/**
 * A new per-terminal credential: 32 random bytes as base64url, the exact text the endpoint sends in its
 * hello. Only `sha256` (hex of SHA-256 over that text, UTF-8) is stored; the gateway hashes what an
 * endpoint presents the same way and compares.
 */
export function issueCredential(): { credential: string; sha256: string } {
  const credential = randomBytes(CREDENTIAL_BYTES).toString('base64url');
  return { credential, sha256: credentialSha256(credential) };
}

export function credentialSha256(credential: string): string {
  return createHash('sha256').update(credential, 'utf8').digest('hex');
}
