import { ASSERTION_MAX_LIFETIME_SECONDS, AssertionClaims, receiving } from '@tapgate/contracts';
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
  /**
   * Required: the one kind this verifier accepts. An e-signature must never sign someone in, and a login
   * must never count as a signature; build one verifier per kind.
   */
  kind: 'login' | 'esign';
  /** Allowed clock difference with the platform, 0-60 s. Default 5 s. */
  clockToleranceSeconds?: number;
  /** Longest `exp - iat` accepted, 1-600 s. Default 600 (the platform's longest `ttl_seconds`). */
  maxLifetimeSeconds?: number;
  /** Where used jti values are kept; default one process's memory. */
  replayStore?: ReplayStore;
}

/** Largest clock tolerance a verifier accepts: more would stretch a 60 s assertion's life past recognition. */
export const MAX_CLOCK_TOLERANCE_SECONDS = 60;

/** What this relying party expects of one assertion, from its own session (never from the page). */
export interface ExpectedAssertion {
  /** The nonce this server issued for the login request or ceremony; the assertion must carry it. */
  nonce?: string;
  /** E-signature: the hash of the record being signed, as sent in `esign.open`. */
  recordHash?: string;
}

/** What verifyCeremony expects: the ceremony it opened, and its nonce and record hash if it sent them. */
export interface ExpectedCeremony extends ExpectedAssertion {
  ceremonyId?: string;
}

/** A whole e-signature ceremony, checked. */
export interface VerifiedCeremony {
  ceremonyId: string;
  secondSignerRequired: boolean;
  recordHash: string | undefined;
  /** Signer 1 first. */
  signatures: AssertionClaims[];
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

  private readonly maxLifetime: number;

  /** Throws TypeError on a missing `kind` or an out-of-range tolerance or lifetime: a bug, not an input. */
  constructor(private readonly opts: AssertionVerifierOptions) {
    if ((opts as { kind?: unknown }).kind !== 'login' && (opts as { kind?: unknown }).kind !== 'esign') {
      throw new TypeError("AssertionVerifier needs kind: 'login' or 'esign'");
    }
    this.tolerance = opts.clockToleranceSeconds ?? 5;
    if (
      !Number.isInteger(this.tolerance) ||
      this.tolerance < 0 ||
      this.tolerance > MAX_CLOCK_TOLERANCE_SECONDS
    ) {
      throw new TypeError(`clockToleranceSeconds must be an integer 0-${MAX_CLOCK_TOLERANCE_SECONDS}`);
    }
    this.maxLifetime = opts.maxLifetimeSeconds ?? ASSERTION_MAX_LIFETIME_SECONDS;
    if (
      !Number.isInteger(this.maxLifetime) ||
      this.maxLifetime < 1 ||
      this.maxLifetime > ASSERTION_MAX_LIFETIME_SECONDS
    ) {
      throw new TypeError(`maxLifetimeSeconds must be an integer 1-${ASSERTION_MAX_LIFETIME_SECONDS}`);
    }
    this.jwks = new RemoteJwks(opts.jwksUrl, opts);
    this.replay = opts.replayStore ?? new MemoryReplayStore(opts.now);
    this.issuer = opts.issuer ?? DEFAULT_ISSUER;
    this.now = opts.now ?? Date.now;
  }

  /**
   * One assertion of this verifier's kind: its claims, or AssertionError. `expected` holds what this
   * server knows of the request (its nonce, the record hash); each one given must match.
   */
  async verify(jws: string, expected: ExpectedAssertion = {}): Promise<AssertionClaims> {
    const claims = await this.check(jws, expected);
    await this.claimOnce(claims);
    return claims;
  }

  /**
   * A relying party's check of a completed e-signature: every assertion verifies (as verify()), they
   * are one ceremony (same ceremonyId), signer 1 then signer 2, by different people, signer 2 links to
   * signer 1 (`firstSignature` = signer 1's jti), all carry the same recordHash and secondSignerRequired,
   * and their number is what secondSignerRequired says. Single use is claimed only once all of it holds.
   */
  async verifyCeremony(
    assertions: readonly string[],
    expected: ExpectedCeremony = {},
  ): Promise<VerifiedCeremony> {
    if (this.opts.kind !== 'esign') throw new TypeError('verifyCeremony needs a verifier of kind esign');
    // Untyped callers (a request body) may pass anything.
    const list: readonly unknown[] = Array.isArray(assertions) ? assertions : [];
    if (list.length < 1 || list.length > 2) {
      throw new AssertionError('wrong_ceremony', 'one or two signatures expected');
    }
    const signatures: AssertionClaims[] = [];
    for (const jws of list) signatures.push(await this.check(jws as string, expected));
    const [first, second] = signatures;
    const t1 = first.tapgate;
    const ceremonyId = t1.ceremonyId;
    if (ceremonyId === undefined) throw new AssertionError('wrong_ceremony', 'signature 1 names no ceremony');
    if (expected.ceremonyId !== undefined && ceremonyId !== expected.ceremonyId) {
      throw new AssertionError('wrong_ceremony', 'the signatures are for another ceremony');
    }
    if (typeof t1.secondSignerRequired !== 'boolean') {
      throw new AssertionError(
        'wrong_ceremony',
        'signature 1 does not say whether a second signer was required',
      );
    }
    const required = t1.secondSignerRequired ? 2 : 1;
    if (signatures.length !== required) {
      throw new AssertionError(
        'wrong_ceremony',
        `${required} signature(s) required, ${signatures.length} given`,
      );
    }
    if (t1.signer !== 1 || t1.firstSignature !== undefined) {
      throw new AssertionError('wrong_ceremony', 'the first signature is not signer 1');
    }
    if (second) {
      const t2 = second.tapgate;
      if (t2.ceremonyId !== ceremonyId) {
        throw new AssertionError('wrong_ceremony', 'signature 2 is for another ceremony');
      }
      if (t2.signer !== 2) throw new AssertionError('wrong_ceremony', 'the second signature is not signer 2');
      if (t2.secondSignerRequired !== t1.secondSignerRequired) {
        throw new AssertionError(
          'wrong_ceremony',
          'the signatures disagree on whether a second signer was required',
        );
      }
      if (t2.recordHash !== t1.recordHash) {
        throw new AssertionError('wrong_record', 'the signatures are of different records');
      }
      if (t2.firstSignature !== first.jti) {
        throw new AssertionError('wrong_ceremony', "signature 2 does not link to signature 1's jti");
      }
      if (second.sub === first.sub) {
        throw new AssertionError('same_signer', 'both signatures are by the same person');
      }
    }
    // Only a whole, valid ceremony uses up its jtis.
    for (const claims of signatures) await this.claimOnce(claims);
    return {
      ceremonyId,
      secondSignerRequired: t1.secondSignerRequired,
      recordHash: t1.recordHash,
      signatures,
    };
  }

  private async claimOnce(claims: AssertionClaims): Promise<void> {
    // Checked last, so a token refused for another reason does not use up its jti.
    if (!(await this.replay.claim(claims.jti, claims.exp + this.tolerance))) {
      throw new AssertionError('replayed', 'assertion was already used');
    }
  }

  /** Everything but single use. */
  private async check(jws: string, expected: ExpectedAssertion): Promise<AssertionClaims> {
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
    // Claims a newer gateway adds are ignored, as RFC 7519 asks of claims a verifier does not understand.
    const parsed = receiving(AssertionClaims).safeParse(payload);
    if (!parsed.success) {
      throw new AssertionError(
        'malformed',
        `claims do not match the schema: ${parsed.error.issues[0]?.message}`,
      );
    }
    const claims = parsed.data;
    if (claims.tapgate.kind !== this.opts.kind) {
      throw new AssertionError('wrong_kind', `expected a ${this.opts.kind} assertion`);
    }
    const nowSeconds = this.now() / 1000;
    // A server whose clock runs behind would otherwise accept an assertion long after its exp.
    if (claims.iat > nowSeconds + this.tolerance) {
      throw new AssertionError('not_yet_valid', "issued in the future: check this server's clock (NTP)");
    }
    if (claims.exp - claims.iat > this.maxLifetime) {
      throw new AssertionError(
        'too_long_lived',
        `lives ${claims.exp - claims.iat} s, more than ${this.maxLifetime} s`,
      );
    }
    if (expected.nonce !== undefined && claims.nonce !== expected.nonce) {
      throw new AssertionError('wrong_nonce', 'issued for another request of this relying party');
    }
    if (expected.recordHash !== undefined && claims.tapgate.recordHash !== expected.recordHash) {
      throw new AssertionError('wrong_record', 'signs another record');
    }
    return claims;
  }
}
