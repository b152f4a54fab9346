import { AssertionError, AssertionVerifier } from '@tapgate/assertions';

/** What the demo's "POMSnet server" answers the page after checking an assertion. */
export type PomsnetAnswer =
  | { signedIn: true; user: string; displayName?: string; terminalId: string; expiresAt: string }
  | { signedIn: false; reason: string; detail: string };

export type EsignAnswer =
  | {
      signed: true;
      ceremonyId: string;
      reason?: string;
      signers: Array<{ signer: number; user: string; displayName?: string; signedAt?: string }>;
    }
  | { signed: false; reason: string; detail: string };

function refusal(e: unknown): { reason: string; detail: string } {
  if (e instanceof AssertionError) return { reason: e.reason, detail: e.message };
  return { reason: 'malformed', detail: e instanceof Error ? e.message : String(e) };
}

/**
 * The server side of the demo NEA, as POMSnet's own server would do it: it trusts nothing the page says,
 * only assertions that verify against the platform's JWKS (signature, audience, expiry, kind, single use).
 */
export class PomsnetServer {
  private readonly login: AssertionVerifier;
  private readonly esign: AssertionVerifier;
  private current: PomsnetAnswer = { signedIn: false, reason: 'no_login', detail: 'nobody has signed in' };

  constructor(jwksUrl: string, audience: string) {
    this.login = new AssertionVerifier({ jwksUrl, audience, kind: 'login' });
    this.esign = new AssertionVerifier({ jwksUrl, audience, kind: 'esign' });
  }

  /** Who is signed in now (or why nobody is). */
  session(): PomsnetAnswer {
    return this.current;
  }

  signOut(): PomsnetAnswer {
    this.current = { signedIn: false, reason: 'signed_out', detail: 'signed out' };
    return this.current;
  }

  async verifyLogin(assertion: string): Promise<PomsnetAnswer> {
    try {
      const c = await this.login.verify(assertion.trim());
      this.current = {
        signedIn: true,
        user: c.sub,
        ...(c.tapgate.displayName ? { displayName: c.tapgate.displayName } : {}),
        terminalId: c.tapgate.terminalId,
        expiresAt: new Date(c.exp * 1000).toISOString(),
      };
    } catch (e) {
      this.current = { signedIn: false, ...refusal(e) };
    }
    return this.current;
  }

  /** Checks a completed ceremony: every assertion verifies, one ceremony, signers in order, distinct people. */
  async verifyEsign(ceremonyId: string, assertions: string[]): Promise<EsignAnswer> {
    if (assertions.length < 1 || assertions.length > 2) {
      return { signed: false, reason: 'malformed', detail: 'one or two assertions expected' };
    }
    const signers: Array<{ signer: number; user: string; displayName?: string; signedAt?: string }> = [];
    let reason: string | undefined;
    for (const [i, jws] of assertions.entries()) {
      try {
        const c = await this.esign.verify(jws.trim());
        if (c.tapgate.ceremonyId !== ceremonyId) {
          return {
            signed: false,
            reason: 'wrong_ceremony',
            detail: `signature ${i + 1} is for another ceremony`,
          };
        }
        if (c.tapgate.signer !== i + 1) {
          return {
            signed: false,
            reason: 'wrong_signer',
            detail: `signature ${i + 1} claims signer ${c.tapgate.signer}`,
          };
        }
        reason = c.tapgate.reason;
        signers.push({
          signer: i + 1,
          user: c.sub,
          ...(c.tapgate.displayName ? { displayName: c.tapgate.displayName } : {}),
          ...(c.tapgate.signedAt ? { signedAt: c.tapgate.signedAt } : {}),
        });
      } catch (e) {
        return { signed: false, ...refusal(e), detail: `signature ${i + 1}: ${refusal(e).detail}` };
      }
    }
    if (signers.length === 2 && signers[0].user === signers[1].user) {
      return { signed: false, reason: 'same_signer', detail: 'both signatures are by the same person' };
    }
    return { signed: true, ceremonyId, ...(reason ? { reason } : {}), signers };
  }
}
