import { randomUUID } from 'node:crypto';
import type { AssertionClaims, AuditRecord, TapDelivery, TapDecision } from '@tapgate/contracts';
import { RefusalReason } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import type { Connection } from '../socket/connection';

const log = createLogger('ceremonies');

/** Issues signed assertions (implemented with libs/assertions). */
export interface AssertionIssuer {
  issue(claims: Pick<AssertionClaims, 'aud' | 'sub' | 'tapgate'>): Promise<{ jws: string; jti: string }>;
}

export type AuditEntry = Omit<AuditRecord, 'v' | 'prevHash' | 'hash' | 'gateway'>;

/** Appends decisions to the hash-chained audit trail (implemented with libs/audit). */
export interface AuditSink {
  /** Resolves once the record is stored; rejects when it could not be. */
  append(record: AuditEntry): Promise<void>;
}

const UNRECORDED: Pick<TapDecision, 'outcome' | 'reason' | 'message'> = {
  outcome: 'refused',
  reason: RefusalReason.Internal,
  message: 'The decision could not be recorded in the audit trail; nothing was signed.',
};

interface PendingLogin {
  requestId: string;
  audience: string;
  timer: NodeJS.Timeout;
}

interface Signature {
  user: string;
  assertion: string;
}

interface Ceremony {
  id: string;
  reason: string;
  comment?: string;
  secondSignerRequired: boolean;
  audience: string;
  timer: NodeJS.Timeout;
  signatures: Signature[];
}

/** Per-NEA-socket state: at most one pending login and one open e-signature ceremony. */
export interface NeaSession {
  login?: PendingLogin;
  ceremony?: Ceremony;
  audience: string;
}

/**
 * Login requests and e-signature ceremonies of the NEA sockets on this replica. Taps reach them through
 * the terminal's delivery (so a tap on another terminal can never sign here); a grant becomes a
 * short-lived single-use assertion for the NEA's audience, and every outcome is audited.
 */
export class Ceremonies {
  private readonly sessions = new WeakMap<Connection, NeaSession>();

  constructor(
    private readonly issuer: AssertionIssuer,
    private readonly audit: AuditSink,
    private readonly esignTimeoutMs: () => number,
    private readonly secondSignerMustDiffer: () => boolean = () => true,
  ) {}

  open(conn: Connection, audience: string): void {
    this.sessions.set(conn, { audience });
  }

  private session(conn: Connection): NeaSession {
    let s = this.sessions.get(conn);
    if (!s) {
      s = { audience: 'nea' };
      this.sessions.set(conn, s);
    }
    return s;
  }

  startLogin(
    conn: Connection,
    audience: string | undefined,
    timeoutMs: number,
  ): { requestId: string; expiresAt: string } | undefined {
    const s = this.session(conn);
    if (s.login) return undefined;
    const requestId = randomUUID();
    const timer = setTimeout(() => {
      if (s.login?.requestId !== requestId) return;
      s.login = undefined;
      conn.send('login.result', { requestId, outcome: 'expired' });
      this.record({
        at: new Date().toISOString(),
        kind: 'login',
        terminalId: terminalOf(conn),
        outcome: 'expired',
      });
    }, timeoutMs);
    timer.unref();
    s.login = { requestId, audience: audience ?? s.audience, timer };
    return { requestId, expiresAt: new Date(Date.now() + timeoutMs).toISOString() };
  }

  cancelLogin(conn: Connection, ref?: string): boolean {
    const s = this.session(conn);
    if (!s.login) return false;
    clearTimeout(s.login.timer);
    conn.send('login.result', { requestId: s.login.requestId, outcome: 'cancelled' }, ref);
    this.record({
      at: new Date().toISOString(),
      kind: 'login',
      terminalId: terminalOf(conn),
      outcome: 'cancelled',
    });
    s.login = undefined;
    return true;
  }

  /** Records an outcome that grants nothing; a failure is logged, not surfaced. */
  private record(entry: AuditEntry): void {
    this.audit
      .append(entry)
      .catch((e: unknown) => log.error({ err: e, kind: entry.kind }, 'audit append failed'));
  }

  openCeremony(
    conn: Connection,
    req: { reason: string; comment?: string; secondSignerRequired: boolean; audience?: string },
  ): { ceremonyId: string; expiresAt: string } | undefined {
    const s = this.session(conn);
    if (s.ceremony) return undefined;
    const id = randomUUID();
    const timeoutMs = this.esignTimeoutMs();
    const timer = setTimeout(() => this.closeCeremony(conn, s, 'expired'), timeoutMs);
    timer.unref();
    s.ceremony = {
      id,
      reason: req.reason,
      comment: req.comment,
      secondSignerRequired: req.secondSignerRequired,
      audience: req.audience ?? s.audience,
      timer,
      signatures: [],
    };
    return { ceremonyId: id, expiresAt: new Date(Date.now() + timeoutMs).toISOString() };
  }

  cancelCeremony(conn: Connection, ceremonyId: string, ref?: string): boolean {
    const s = this.session(conn);
    if (!s.ceremony || s.ceremony.id !== ceremonyId) return false;
    this.closeCeremony(conn, s, 'cancelled', ref);
    return true;
  }

  private closeCeremony(
    conn: Connection,
    s: NeaSession,
    state: 'completed' | 'expired' | 'cancelled',
    ref?: string,
  ): void {
    const c = s.ceremony;
    if (!c) return;
    clearTimeout(c.timer);
    s.ceremony = undefined;
    conn.send(
      'esign.closed',
      {
        ceremonyId: c.id,
        state,
        assertions: state === 'completed' ? c.signatures.map((x) => x.assertion) : [],
      },
      ref,
    );
    this.record({
      at: new Date().toISOString(),
      kind: 'esign',
      terminalId: terminalOf(conn),
      outcome: state,
      ceremonyId: c.id,
      esignReason: c.reason,
      audience: c.audience,
    });
  }

  /** A tap reached this NEA socket: feed it to a pending login and an open ceremony. */
  async onTap(conn: Connection, d: TapDelivery): Promise<void> {
    const s = this.sessions.get(conn);
    if (!s) return;
    try {
      if (s.login) await this.completeLogin(conn, s, s.login, d);
      if (s.ceremony) await this.sign(conn, s, s.ceremony, d);
    } catch (e) {
      log.error({ err: e, tap: d.tapId }, 'ceremony step failed');
    }
  }

  private async completeLogin(
    conn: Connection,
    s: NeaSession,
    login: PendingLogin,
    d: TapDelivery,
  ): Promise<void> {
    s.login = undefined;
    clearTimeout(login.timer);
    let dec = d.decision;
    let assertion: { jws: string; jti: string } | undefined;
    if (dec.outcome === 'granted' && dec.user) {
      assertion = await this.issuer.issue({
        aud: login.audience,
        sub: dec.user.sAMAccountName,
        tapgate: {
          kind: 'login',
          terminalId: d.terminalId,
          tapId: d.tapId,
          bandId: d.bandId,
          displayName: dec.user.displayName,
          status: dec.status ?? 'active',
        },
      });
    }
    const entry: AuditEntry = {
      at: new Date().toISOString(),
      kind: 'login',
      terminalId: d.terminalId,
      tapId: d.tapId,
      outcome: assertion ? 'granted' : 'refused',
      reason: dec.reason,
      user: dec.user,
      status: dec.status,
      decision: dec,
      assertionId: assertion?.jti,
      audience: login.audience,
    };
    ({ assertion, dec } = await this.recordOutcome(entry, assertion, dec));
    conn.send('login.result', {
      requestId: login.requestId,
      outcome: assertion ? 'granted' : 'refused',
      decision: dec,
      assertion: assertion?.jws,
    });
  }

  /**
   * Audits an outcome. A grant is handed out only once it is on the record: when the append fails, the
   * assertion is withheld and the decision becomes a refusal. Refusals are recorded without waiting.
   */
  private async recordOutcome(
    entry: AuditEntry,
    assertion: { jws: string; jti: string } | undefined,
    dec: TapDecision,
  ): Promise<{ assertion: { jws: string; jti: string } | undefined; dec: TapDecision }> {
    if (!assertion) {
      this.record(entry);
      return { assertion, dec };
    }
    try {
      await this.audit.append(entry);
      return { assertion, dec };
    } catch (e) {
      log.error({ err: e, kind: entry.kind }, 'audit append failed; refusing the grant');
      return { assertion: undefined, dec: { ...dec, ...UNRECORDED } };
    }
  }

  private async sign(conn: Connection, s: NeaSession, c: Ceremony, d: TapDelivery): Promise<void> {
    const signer = (c.signatures.length + 1) as 1 | 2;
    let dec: TapDecision = d.decision;
    if (
      dec.outcome === 'granted' &&
      dec.user &&
      this.secondSignerMustDiffer() &&
      c.signatures.some((x) => x.user === dec.user!.sAMAccountName.toLowerCase())
    ) {
      dec = {
        ...dec,
        outcome: 'refused',
        reason: RefusalReason.SameSigner,
        message: 'The second signature must come from another person.',
      };
    }
    let assertion: { jws: string; jti: string } | undefined;
    const signedAt = new Date().toISOString();
    if (dec.outcome === 'granted' && dec.user) {
      assertion = await this.issuer.issue({
        aud: c.audience,
        sub: dec.user.sAMAccountName,
        tapgate: {
          kind: 'esign',
          terminalId: d.terminalId,
          tapId: d.tapId,
          bandId: d.bandId,
          displayName: dec.user.displayName,
          status: dec.status ?? 'active',
          ceremonyId: c.id,
          reason: c.reason,
          comment: c.comment,
          signer,
          signedAt,
        },
      });
    }
    const entry: AuditEntry = {
      at: signedAt,
      kind: 'esign',
      terminalId: d.terminalId,
      tapId: d.tapId,
      outcome: assertion ? 'granted' : 'refused',
      reason: dec.reason,
      user: dec.user,
      status: dec.status,
      decision: dec,
      ceremonyId: c.id,
      esignReason: c.reason,
      signer,
      assertionId: assertion?.jti,
      audience: c.audience,
    };
    ({ assertion, dec } = await this.recordOutcome(entry, assertion, dec));
    if (assertion && dec.user) {
      c.signatures.push({ user: dec.user.sAMAccountName.toLowerCase(), assertion: assertion.jws });
    }
    conn.send('esign.signature', {
      ceremonyId: c.id,
      signer,
      outcome: assertion ? 'granted' : 'refused',
      decision: dec,
      assertion: assertion?.jws,
    });
    const needed = c.secondSignerRequired ? 2 : 1;
    if (c.signatures.length >= needed) this.closeCeremony(conn, s, 'completed');
  }

  /** The socket closed: stop its timers. */
  close(conn: Connection): void {
    const s = this.sessions.get(conn);
    if (!s) return;
    if (s.login) clearTimeout(s.login.timer);
    if (s.ceremony) clearTimeout(s.ceremony.timer);
    this.sessions.delete(conn);
  }
}

function terminalOf(conn: Connection): string {
  return conn.binding?.terminalId ?? conn.terminalId ?? 'unbound';
}
