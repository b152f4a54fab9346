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

  /**
   * Checks a completed ceremony with verifyCeremony: every assertion verifies, one ceremony, signer 1
   * then 2 by different people, signer 2 linked to signer 1, one record, as many signatures as required.
   */
  async verifyEsign(ceremonyId: string, assertions: string[]): Promise<EsignAnswer> {
    try {
      const checked = await this.esign.verifyCeremony(
        assertions.map((a) => a.trim()),
        { ceremonyId },
      );
      const reason = checked.signatures[0].tapgate.reason;
      return {
        signed: true,
        ceremonyId,
        ...(reason ? { reason } : {}),
        signers: checked.signatures.map((c) => ({
          signer: c.tapgate.signer ?? 0,
          user: c.sub,
          ...(c.tapgate.displayName ? { displayName: c.tapgate.displayName } : {}),
          ...(c.tapgate.signedAt ? { signedAt: c.tapgate.signedAt } : {}),
        })),
      };
    } catch (e) {
      return { signed: false, ...refusal(e) };
    }
  }
}
