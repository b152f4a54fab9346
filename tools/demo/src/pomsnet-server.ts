import { AssertionError, AssertionVerifier } from '@tapgate/assertions';
import { createHash, randomBytes } from 'node:crypto';

/** What the demo's "POMSnet server" answers the page after checking an assertion. */
export type PomsnetAnswer =
  | { signedIn: true; user: string; displayName?: string; terminalId: string; expiresAt: string }
  | { signedIn: false; reason: string; detail: string };

export type EsignAnswer =
  | {
      signed: true;
      ceremonyId: string;
      reason?: string;
      comment?: string;
      /**
       * What 21 CFR 11.50 asks a signed record to show, from each verified assertion: the printed name
       * (displayName, else the account), when it was signed, and its meaning (the reason signed for).
       */
      signers: Array<{
        signer: number;
        user: string;
        displayName?: string;
        signedAt: string;
        meaning?: string;
      }>;
    }
  | { signed: false; reason: string; detail: string };

function refusal(e: unknown): { reason: string; detail: string } {
  if (e instanceof AssertionError) return { reason: e.reason, detail: e.message };
  return { reason: 'malformed', detail: e instanceof Error ? e.message : String(e) };
}

/** What the page is about to have signed: the meaning of the signature, as the POMSnet server records it. */
export interface EsignRecord {
  reason: string;
  comment?: string;
  secondSignerRequired: boolean;
}

/** A request this server opened: its nonce, and for an e-signature the hash of the record to be signed. */
interface PendingRequest {
  kind: 'login' | 'esign';
  expiresAt: number;
  recordHash?: string;
}

/** How long a nonce waits for its assertion: the longest login wait (10 min) the page may ask for. */
const NONCE_TTL_MS = 10 * 60_000;
/** Outstanding nonces kept at most (oldest dropped first), so a page reloading in a loop cannot grow it. */
const MAX_PENDING = 1_000;

function refusalOf(reason: string, detail: string): { signedIn: false; reason: string; detail: string } {
  return { signedIn: false, reason, detail };
}

/**
 * The server side of the demo NEA, as POMSnet's own server would do it: it trusts nothing the page says,
 * only assertions that verify against the platform's JWKS (signature, audience, expiry, kind, single use)
 * and that were issued for a request this server opened. As in OpenID Connect, the server issues a nonce
 * for each login request and ceremony (kept in an HttpOnly cookie of the page's session); the page passes
 * it to the gateway, the assertion carries it, and the server accepts only its own, once. For an
 * e-signature the server also fixes what is signed: the assertion must carry the hash of that record.
 */
export class PomsnetServer {
  private readonly login: AssertionVerifier;
  private readonly esign: AssertionVerifier;
  private readonly pending = new Map<string, PendingRequest>();
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

  /** Opens a login request: the nonce the page must pass to `tapgate.login({ nonce })`. */
  beginLogin(now = Date.now()): string {
    return this.open({ kind: 'login', expiresAt: now + NONCE_TTL_MS });
  }

  /** Opens an e-signature: its nonce and the hash of the record, for `tapgate.esign({ nonce, recordHash })`. */
  beginEsign(record: EsignRecord, now = Date.now()): { nonce: string; recordHash: string } {
    const recordHash = hashRecord(record);
    return { nonce: this.open({ kind: 'esign', expiresAt: now + NONCE_TTL_MS, recordHash }), recordHash };
  }

  private open(request: PendingRequest): string {
    while (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    const nonce = randomBytes(18).toString('base64url');
    this.pending.set(nonce, request);
    return nonce;
  }

  /** Takes a nonce this server issued for `kind` (single use); undefined when it is unknown or stale. */
  private take(nonce: string | undefined, kind: PendingRequest['kind']): PendingRequest | undefined {
    if (nonce === undefined) return undefined;
    const request = this.pending.get(nonce);
    if (!request || request.kind !== kind) return undefined;
    this.pending.delete(nonce);
    return request.expiresAt > Date.now() ? request : undefined;
  }

  async verifyLogin(assertion: string, nonce: string | undefined): Promise<PomsnetAnswer> {
    if (!this.take(nonce, 'login')) {
      this.current = refusalOf('no_request', 'this server opened no login request for this page');
      return this.current;
    }
    try {
      const c = await this.login.verify(assertion.trim(), { nonce });
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
  async verifyEsign(
    ceremonyId: string,
    assertions: string[],
    nonce: string | undefined,
  ): Promise<EsignAnswer> {
    const request = this.take(nonce, 'esign');
    if (!request) {
      return {
        signed: false,
        reason: 'no_request',
        detail: 'this server opened no e-signature for this page',
      };
    }
    try {
      const checked = await this.esign.verifyCeremony(
        assertions.map((a) => a.trim()),
        { ceremonyId, nonce, recordHash: request.recordHash },
      );
      const { reason, comment } = checked.signatures[0].tapgate;
      return {
        signed: true,
        ceremonyId,
        ...(reason ? { reason } : {}),
        ...(comment ? { comment } : {}),
        signers: checked.signatures.map((c) => ({
          signer: c.tapgate.signer ?? 0,
          user: c.sub,
          ...(c.tapgate.displayName ? { displayName: c.tapgate.displayName } : {}),
          signedAt: c.tapgate.signedAt ?? new Date(c.iat * 1000).toISOString(),
          ...(c.tapgate.reason ? { meaning: c.tapgate.reason } : {}),
        })),
      };
    } catch (e) {
      return { signed: false, ...refusal(e) };
    }
  }
}

/** base64url SHA-256 of the record's canonical JSON (fixed key order): what the signatures must carry. */
export function hashRecord(record: EsignRecord): string {
  const canonical = JSON.stringify([record.reason, record.comment ?? '', record.secondSignerRequired]);
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}
