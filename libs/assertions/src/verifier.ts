import { AssertionClaims } from '@tapgate/contracts';
import { AssertionError } from './errors';
import { loadJose, type Jose } from './jose';
import { RemoteJwks, type RemoteJwksOptions } from './jwks';
import { MemoryReplayStore, type ReplayStore } from './replay-store';
import { ASSERTION_TYP, DEFAULT_ISSUER } from './signer';

export interface AssertionVerifierOptions extends RemoteJwksOptions {
  /** The platform's JWKS endpoint. */
  jwksUrl: string;
  /** This NEA's audience (what it asked for in login.request / esign.open, or its authUrl). */
  audience: string | string[];
  /** Default "tapgate" ([assertions].issuer on the platform). */
  issuer?: string;
  /** Accept only login or only e-signature assertions; an e-signature must never sign someone in. */
  kind?: 'login' | 'esign';
  /** Allowed clock difference with the platform. Default 5 s. */
  clockToleranceSeconds?: number;
  /** Where used jti values are kept; default one process's memory. */
  replayStore?: ReplayStore;
}

// 64 bytes of r||s are 86 base64url characters; the last one carries 2 unused bits, which decoders ignore.
const CANONICAL_SIGNATURE = /^[A-Za-z0-9_-]{85}[AQgw]$/;

function mapJoseError(jose: Jose, e: unknown): AssertionError {
  if (e instanceof AssertionError) return e;
  const { errors } = jose;
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new AssertionError('bad_signature', 'signature does not verify');
  }
  if (e instanceof errors.JWTExpired) return new AssertionError('expired', 'assertion has expired');
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'aud') return new AssertionError('wrong_audience', 'assertion is for another audience');
    if (e.claim === 'iss') return new AssertionError('wrong_issuer', 'assertion is from another issuer');
    return new AssertionError('malformed', `claim ${e.claim}: ${e.reason}`);
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return new AssertionError('malformed', 'algorithm is not ES256');
  if (e instanceof errors.JOSEError) return new AssertionError('malformed', e.message);
  return new AssertionError('malformed', e instanceof Error ? e.message : String(e));
}

/**
 * Verifies Tapgate assertions on an NEA's server: ES256 signature against the platform's JWKS (key
 * rotation handled), issuer, audience, expiry, the claim schema, and single use of the jti.
 * verify() returns the claims or throws AssertionError; anything unexpected is a refusal.
 */
export class AssertionVerifier {
  private readonly jwks: RemoteJwks;
  private readonly replay: ReplayStore;
  private readonly issuer: string;
  private readonly tolerance: number;
  private readonly now: () => number;

  constructor(private readonly opts: AssertionVerifierOptions) {
    this.jwks = new RemoteJwks(opts.jwksUrl, opts);
    this.replay = opts.replayStore ?? new MemoryReplayStore(opts.now);
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.tolerance = opts.clockToleranceSeconds ?? 5;
    this.now = opts.now ?? Date.now;
  }

  async verify(jws: string): Promise<AssertionClaims> {
    if (typeof jws !== 'string' || jws.length > 16_384) {
      throw new AssertionError('malformed', 'not a compact JWS');
    }
    const parts = jws.split('.');
    if (parts.length !== 3 || !CANONICAL_SIGNATURE.test(parts[2])) {
      throw new AssertionError('malformed', 'not a compact ES256 JWS');
    }
    const jose = await loadJose();
    let payload: unknown;
    try {
      const result = await jose.jwtVerify(
        jws,
        async (header) => {
          if (typeof header.kid !== 'string' || header.kid === '') {
            throw new AssertionError('malformed', 'header has no kid');
          }
          return this.jwks.key(header.kid);
        },
        {
          algorithms: ['ES256'],
          issuer: this.issuer,
          audience: this.opts.audience,
          typ: ASSERTION_TYP,
          clockTolerance: this.tolerance,
          requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
          currentDate: new Date(this.now()),
        },
      );
      payload = result.payload;
    } catch (e) {
      throw mapJoseError(jose, e);
    }
    const parsed = AssertionClaims.safeParse(payload);
    if (!parsed.success) {
      throw new AssertionError(
        'malformed',
        `claims do not match the schema: ${parsed.error.issues[0]?.message}`,
      );
    }
    const claims = parsed.data;
    if (this.opts.kind !== undefined && claims.tapgate.kind !== this.opts.kind) {
      throw new AssertionError('wrong_kind', `expected a ${this.opts.kind} assertion`);
    }
    // Checked last, so a token refused for another reason does not use up its jti.
    if (!(await this.replay.claim(claims.jti, claims.exp + this.tolerance))) {
      throw new AssertionError('replayed', 'assertion was already used');
    }
    return claims;
  }
}
