import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AssertionClaims } from '@tapgate/contracts';
import { loadJose } from './jose';
import { parseSigningKey, SigningKeyError, type PublicJwk, type SigningKey } from './keys';

/** Media type of Tapgate assertions (RFC 8725 explicit typing), so no other JWT can pass for one. */
export const ASSERTION_TYP = 'tapgate-assertion+jwt';
export const DEFAULT_ISSUER = 'tapgate';
export const DEFAULT_TTL_SECONDS = 60;

/** What the caller decides; the signer adds iss, iat, exp and jti. */
export type AssertionInput = Omit<AssertionClaims, 'iss' | 'iat' | 'exp' | 'jti'>;

export interface SignedAssertion {
  /** Compact JWS (ES256). A bearer credential until it expires: never log it. */
  jws: string;
  /** The single-use nonce, for the audit trail. */
  jti: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export interface AssertionSignerOptions {
  /** Private keys as text (PEM or JWK), e.g. [assertions] as loaded by @tapgate/config. The first signs. */
  signingKeys: ReadonlyArray<{ file?: string; key: string }>;
  issuer?: string;
  ttlSeconds?: number;
  /** Clock in milliseconds; tests move it. */
  now?: () => number;
}

export class AssertionClaimsError extends Error {
  override readonly name = 'AssertionClaimsError';
}

/**
 * Signs login and e-signature assertions with the first configured key and publishes every configured
 * key in its JWKS, so keys can be rotated without invalidating assertions already handed out.
 */
export class AssertionSigner {
  private readonly keys: SigningKey[];
  readonly issuer: string;
  readonly ttlSeconds: number;
  private readonly now: () => number;

  /** Throws SigningKeyError for a bad key, an empty list or two copies of one key. */
  constructor(opts: AssertionSignerOptions) {
    if (opts.signingKeys.length === 0) {
      throw new SigningKeyError('[assertions].signing_key_files', 'no signing key configured');
    }
    this.keys = opts.signingKeys.map((k, i) => parseSigningKey(k.key, k.file ?? `signing key ${i + 1}`));
    const seen = new Map<string, string>();
    for (const k of this.keys) {
      const first = seen.get(k.kid);
      if (first !== undefined) throw new SigningKeyError(k.source, `is the same key as ${first}`);
      seen.set(k.kid, k.source);
    }
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.ttlSeconds = opts.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < 1) {
      throw new RangeError('ttlSeconds must be a positive integer');
    }
    this.now = opts.now ?? Date.now;
  }

  /** Loads the key files (PEM or JWK); the first signs. */
  static fromFiles(files: readonly string[], opts: Omit<AssertionSignerOptions, 'signingKeys'> = {}) {
    const signingKeys = files.map((file) => {
      try {
        return { file, key: readFileSync(file, 'utf8') };
      } catch (e) {
        throw new SigningKeyError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
    });
    return new AssertionSigner({ ...opts, signingKeys });
  }

  /** The kid (RFC 7638 thumbprint) of the key that signs. */
  get kid(): string {
    return this.keys[0].kid;
  }

  /** The public keys, current signer first, for the platform's JWKS endpoint. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.keys.map((k) => ({ ...k.publicJwk })) };
  }

  /** Signs `claims` after validating them against AssertionClaims; invalid claims are never signed. */
  async sign(claims: AssertionInput): Promise<SignedAssertion> {
    const iat = Math.floor(this.now() / 1000);
    const exp = iat + this.ttlSeconds;
    const jti = randomBytes(16).toString('base64url');
    const parsed = AssertionClaims.safeParse({ ...claims, iss: this.issuer, iat, exp, jti });
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new AssertionClaimsError(`refusing to sign invalid claims: ${problems}`);
    }
    if (parsed.data.aud === '' || parsed.data.sub === '') {
      throw new AssertionClaimsError('refusing to sign claims without aud or sub');
    }
    const { SignJWT } = await loadJose();
    const signer = this.keys[0];
    const jws = await new SignJWT(parsed.data)
      .setProtectedHeader({ alg: 'ES256', kid: signer.kid, typ: ASSERTION_TYP })
      .sign(signer.privateKey);
    return { jws, jti, exp };
  }
}
