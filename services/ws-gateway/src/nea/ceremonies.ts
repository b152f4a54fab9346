import { randomUUID } from 'node:crypto';
import type { AssertionClaims, AuditRecord, TapDelivery, TapDecision } from '@tapgate/contracts';
import { RefusalReason } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import type { Connection } from '../socket/connection';

const log = createLogger('ceremonies');

/** Issues signed assertions (implemented with libs/assertions). */
export interface AssertionIssuer {
  issue(
    claims: Pick<AssertionClaims, 'aud' | 'sub' | 'nonce' | 'tapgate'>,
  ): Promise<{ jws: string; jti: string }>;
}

export type AuditEntry = Omit<AuditRecord, 'v' | 'prevHash' | 'hash' | 'gateway'>;

/** Appends decisions to the hash-chained audit trail (implemented with libs/audit). */
export interface AuditSink {
  /** Resolves once the record is stored; rejects when it could not be. Used for grants only. */
  append(record: AuditEntry): Promise<void>;
  /** Queues a record that grants nothing; it is stored in order, also after a NATS outage. */
  enqueue(record: AuditEntry): void;
}

/**
 * Which login / ceremony a granted tap is used for, across replicas: the first `claim` of a tap for a
 * kind wins, so one tap logs in at most one application and signs at most one ceremony. Rejects when
 * it cannot tell (NATS unreachable): the tap is then refused, never used twice.
 */
export interface TapClaims {
  claim(
    kind: 'login' | 'esign',
    tap: { terminalId: string; tapId: string },
    holder: string,
  ): Promise<boolean>;
}

/** Open ceremonies in shared storage, so a ceremony whose gateway died is closed by another replica. */
export interface OpenCeremonyLedger {
  opened(c: OpenCeremony): void;
  /** True when this caller may write the closing record (nobody else closed it). */
  closing(ceremonyId: string): Promise<boolean>;
}

export interface OpenCeremony {
  ceremonyId: string;
  terminalId: string;
  reason: string;
  audience: string;
  secondSignerRequired: boolean;
  recordHash?: string;
  deadline: number;
}

/** Settings of the ceremony machinery that come from config and policy. */
export interface CeremonyTimings {
  esignTimeoutMs(): number;
  secondSignerMustDiffer(): boolean;
  /** The oldest a decision may be (since the endpoint's replica received the tap) to be delivered or granted. */
  maxDecisionAgeMs: number;
}

/** What handling a delivered tap did on this replica, for the endpoint's answer. */
export interface TapHandled {
  /** Set when a grant this tap earned was withheld: the endpoint reports this refusal too. */
  refusal?: { reason: RefusalReason; message: string };
}

const UNRECORDED = {
  reason: RefusalReason.Internal,
  message: 'The decision could not be recorded in the audit trail; nothing was signed.',
} as const;
const TOO_OLD = {
  reason: RefusalReason.DecisionTooOld,
  message: 'The tap took too long to process; please tap again.',
} as const;
const UNCLAIMED = {
  reason: RefusalReason.Internal,
  message: 'The tap could not be reserved for this request; please tap again.',
} as const;

interface PendingLogin {
  requestId: string;
  audience: string;
  nonce?: string;
  timer: NodeJS.Timeout;
}

/** A signature slot: reserved before the awaits of a signing step, released if the step fails. */
interface Slot {
  user: string;
  state: 'reserved' | 'signed';
  assertion?: string;
  jti?: string;
}

interface Ceremony {
  id: string;
  terminalId: string;
  reason: string;
  comment?: string;
  secondSignerRequired: boolean;
  recordHash?: string;
  nonce?: string;
  audience: string;
  timer: NodeJS.Timeout;
  slots: Slot[];
  closed: boolean;
}

/** Per-NEA-socket state: at most one pending login and one open e-signature ceremony. */
interface NeaSession {
  login?: PendingLogin;
  ceremony?: Ceremony;
  audience: string;
  /**
   * The taps of this socket are handled one after another (a promise chain): the signer number and the
   * same-signer check are taken and kept across the awaits of one tap before the next tap looks.
   * Undefined until the socket's first tap (an idle socket holds no promise).
   */
  chain?: Promise<unknown>;
}

type Grant = { jws: string; jti: string };

/**
 * Login requests and e-signature ceremonies of the NEA sockets on this replica. Taps reach them through
 * the terminal's delivery (so a tap on another terminal can never sign here); a grant becomes a
 * short-lived single-use assertion for the NEA's audience, handed out only once its audit record is
 * stored and while the decision is younger than `maxDecisionAgeMs`; every outcome is audited.
 */
export class Ceremonies {
  private readonly sessions = new Map<Connection, NeaSession>();

  constructor(
    private readonly gatewayId: string,
    private readonly issuer: AssertionIssuer,
    private readonly audit: AuditSink,
    private readonly claims: TapClaims,
    private readonly ledger: OpenCeremonyLedger,
    private readonly timings: CeremonyTimings,
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

  /** How much longer a decision may be acted on (ms; <= 0: too old). */
  remainingMs(d: Pick<TapDelivery, 'receivedAt'>, now = Date.now()): number {
    return Date.parse(d.receivedAt) + this.timings.maxDecisionAgeMs - now;
  }

  startLogin(
    conn: Connection,
    req: { audience?: string; timeoutMs?: number; nonce?: string },
  ): { requestId: string; expiresAt: string } | undefined {
    const s = this.session(conn);
    if (s.login) return undefined;
    const requestId = randomUUID();
    const timeoutMs = req.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      if (s.login?.requestId !== requestId) return;
      s.login = undefined;
      conn.send('login.result', { requestId, outcome: 'expired' });
      this.audit.enqueue(this.loginClosing(conn, 'expired'));
    }, timeoutMs);
    timer.unref();
    s.login = { requestId, audience: req.audience ?? s.audience, nonce: req.nonce, timer };
    return { requestId, expiresAt: new Date(Date.now() + timeoutMs).toISOString() };
  }

  cancelLogin(conn: Connection, ref?: string): boolean {
    const s = this.session(conn);
    if (!s.login) return false;
    clearTimeout(s.login.timer);
    conn.send('login.result', { requestId: s.login.requestId, outcome: 'cancelled' }, ref);
    this.audit.enqueue(this.loginClosing(conn, 'cancelled'));
    s.login = undefined;
    return true;
  }

  private loginClosing(conn: Connection, outcome: 'expired' | 'cancelled' | 'abandoned'): AuditEntry {
    return { at: new Date().toISOString(), kind: 'login', terminalId: terminalOf(conn), outcome };
  }

  openCeremony(
    conn: Connection,
    req: {
      reason: string;
      comment?: string;
      secondSignerRequired: boolean;
      audience?: string;
      nonce?: string;
      recordHash?: string;
    },
  ): { ceremonyId: string; expiresAt: string } | undefined {
    const s = this.session(conn);
    if (s.ceremony) return undefined;
    const id = randomUUID();
    const timeoutMs = this.timings.esignTimeoutMs();
    const deadline = Date.now() + timeoutMs;
    const timer = setTimeout(() => this.closeCeremony(conn, s, 'expired'), timeoutMs);
    timer.unref();
    const c: Ceremony = {
      id,
      terminalId: terminalOf(conn),
      reason: req.reason,
      comment: req.comment,
      secondSignerRequired: req.secondSignerRequired,
      recordHash: req.recordHash,
      nonce: req.nonce,
      audience: req.audience ?? s.audience,
      timer,
      slots: [],
      closed: false,
    };
    s.ceremony = c;
    this.ledger.opened({
      ceremonyId: id,
      terminalId: c.terminalId,
      reason: c.reason,
      audience: c.audience,
      secondSignerRequired: c.secondSignerRequired,
      recordHash: c.recordHash,
      deadline,
    });
    return { ceremonyId: id, expiresAt: new Date(deadline).toISOString() };
  }

  cancelCeremony(conn: Connection, ceremonyId: string, ref?: string): boolean {
    const s = this.session(conn);
    if (!s.ceremony || s.ceremony.id !== ceremonyId) return false;
    this.closeCeremony(conn, s, 'cancelled', ref);
    return true;
  }

  /** Ends a ceremony once: tells the socket (unless it is gone) and writes its one closing record. */
  private closeCeremony(
    conn: Connection,
    s: NeaSession,
    state: 'completed' | 'expired' | 'cancelled' | 'abandoned',
    ref?: string,
  ): void {
    const c = s.ceremony;
    if (!c || c.closed) return;
    c.closed = true;
    clearTimeout(c.timer);
    s.ceremony = undefined;
    if (state !== 'abandoned') {
      conn.send(
        'esign.closed',
        {
          ceremonyId: c.id,
          state,
          assertions: state === 'completed' ? c.slots.map((x) => x.assertion!) : [],
        },
        ref,
      );
    }
    const entry: AuditEntry = {
      at: new Date().toISOString(),
      kind: 'esign',
      terminalId: c.terminalId,
      outcome: state,
      ceremonyId: c.id,
      esignReason: c.reason,
      esignComment: c.comment,
      secondSignerRequired: c.secondSignerRequired,
      recordHash: c.recordHash,
      audience: c.audience,
    };
    // The ledger entry is removed first: if another replica's janitor already closed this ceremony
    // (its gateway looked dead), that closing record stands and this one is not written.
    void this.ledger.closing(c.id).then((mine) => {
      if (mine) this.audit.enqueue(entry);
      else log.warn({ ceremony: c.id }, 'ceremony already closed by another replica');
    });
  }

  /**
   * A fresh tap reached this NEA socket: feed it to a pending login and an open ceremony, after every
   * earlier tap of this socket is done. Resolves with what the endpoint must hear about it.
   */
  onTap(conn: Connection, d: TapDelivery): Promise<TapHandled> {
    const s = this.sessions.get(conn);
    if (!s) return Promise.resolve({});
    const step = (s.chain ?? Promise.resolve()).then(async (): Promise<TapHandled> => {
      const handled: TapHandled = {};
      try {
        if (s.login) handled.refusal = await this.completeLogin(conn, s, s.login, d);
        if (s.ceremony) handled.refusal = (await this.sign(conn, s, s.ceremony, d)) ?? handled.refusal;
      } catch (e) {
        log.error({ err: e, tap: d.tapId }, 'ceremony step failed');
      }
      return handled;
    });
    s.chain = step;
    return step;
  }

  /** Claims a granted tap for one use; undefined = another application got it (do nothing here). */
  private async claim(kind: 'login' | 'esign', d: TapDelivery, holder: string): Promise<boolean | 'error'> {
    try {
      return await this.claims.claim(kind, d, `${this.gatewayId}/${holder}`);
    } catch (e) {
      log.error({ err: e, tap: d.tapId }, 'tap claim failed; refusing');
      return 'error';
    }
  }

  /**
   * Stores a grant's record within the decision's remaining age. Resolves undefined when the grant may
   * be handed out, else the refusal to tell instead; then a `voided` record (same tapId and kind) is
   * queued so the trail says the grant, if it was stored after all, never reached anyone.
   */
  private async confirmGrant(
    entry: AuditEntry,
    d: TapDelivery,
  ): Promise<{ reason: RefusalReason; message: string } | undefined> {
    let refusal: { reason: RefusalReason; message: string } | undefined;
    const remaining = this.remainingMs(d);
    if (remaining <= 0) refusal = TOO_OLD;
    else {
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), remaining);
      });
      try {
        const r = await Promise.race([this.audit.append(entry).then(() => 'stored' as const), expired]);
        if (r === 'timeout') refusal = TOO_OLD;
      } catch (e) {
        log.error({ err: e, kind: entry.kind, tap: d.tapId }, 'audit append failed; refusing the grant');
        refusal = UNRECORDED;
      } finally {
        clearTimeout(timer);
      }
      // A hang after the append (this process stopped, say) must not hand out an old grant either.
      if (!refusal && this.remainingMs(d) <= 0) refusal = TOO_OLD;
    }
    if (refusal) this.void(entry, refusal);
    return refusal;
  }

  private void(entry: AuditEntry, refusal: { reason: RefusalReason; message: string }): void {
    this.audit.enqueue({
      ...entry,
      at: new Date().toISOString(),
      outcome: 'voided',
      reason: refusal.reason,
      decision: entry.decision ? { ...entry.decision, outcome: 'refused', ...refusal } : undefined,
    });
  }

  private async completeLogin(
    conn: Connection,
    s: NeaSession,
    login: PendingLogin,
    d: TapDelivery,
  ): Promise<TapHandled['refusal']> {
    let dec = d.decision;
    const granted = dec.outcome === 'granted' && dec.user !== undefined;
    if (granted) {
      const claimed = await this.claim('login', d, login.requestId);
      if (claimed === false) return undefined; // another application's login took this tap
      if (s.login !== login) return undefined; // expired or cancelled meanwhile
      if (claimed === 'error') dec = { ...dec, outcome: 'refused', ...UNCLAIMED };
    }
    let withheld: TapHandled['refusal'] = granted && dec.outcome === 'refused' ? UNCLAIMED : undefined;
    s.login = undefined;
    clearTimeout(login.timer);
    const entry: AuditEntry = {
      at: new Date().toISOString(),
      kind: 'login',
      terminalId: d.terminalId,
      tapId: d.tapId,
      bandId: d.bandId,
      outcome: dec.outcome,
      reason: dec.reason,
      user: dec.user,
      status: dec.status,
      decision: dec,
      audience: login.audience,
    };
    let assertion: Grant | undefined;
    if (dec.outcome === 'granted' && dec.user) {
      assertion = await this.issuer.issue({
        aud: login.audience,
        sub: dec.user.sAMAccountName,
        nonce: login.nonce,
        tapgate: {
          kind: 'login',
          terminalId: d.terminalId,
          tapId: d.tapId,
          bandId: d.bandId,
          displayName: dec.user.displayName,
          status: dec.status ?? 'active',
        },
      });
      withheld = await this.confirmGrant({ ...entry, assertionId: assertion.jti }, d);
      if (withheld) {
        assertion = undefined;
        dec = { ...dec, outcome: 'refused', ...withheld };
      }
    } else {
      this.audit.enqueue(entry);
    }
    conn.send('login.result', {
      requestId: login.requestId,
      outcome: assertion ? 'granted' : 'refused',
      decision: dec,
      assertion: assertion?.jws,
    });
    return withheld;
  }

  private async sign(
    conn: Connection,
    s: NeaSession,
    c: Ceremony,
    d: TapDelivery,
  ): Promise<TapHandled['refusal']> {
    let dec: TapDecision = d.decision;
    const user = dec.user?.sAMAccountName.toLowerCase();
    if (
      dec.outcome === 'granted' &&
      user !== undefined &&
      this.timings.secondSignerMustDiffer() &&
      c.slots.some((x) => x.user === user)
    ) {
      dec = {
        ...dec,
        outcome: 'refused',
        reason: RefusalReason.SameSigner,
        message: 'The second signature must come from another person.',
      };
    }
    // The slot is taken now, before any await: the next tap of this socket sees it (and this user).
    const slot: Slot = { user: user ?? '', state: 'reserved' };
    const signer = (c.slots.length + 1) as 1 | 2;
    const granted = dec.outcome === 'granted' && user !== undefined;
    if (granted) {
      c.slots.push(slot);
      const claimed = await this.claim('esign', d, c.id);
      if (claimed !== true) c.slots.splice(c.slots.indexOf(slot), 1);
      if (claimed === false) return undefined; // another ceremony took this tap
      if (claimed === 'error') dec = { ...dec, outcome: 'refused', ...UNCLAIMED };
    }
    // A grant this tap earned but could not use is a refusal the endpoint must hear too.
    let withheld: TapHandled['refusal'] = granted && dec.outcome === 'refused' ? UNCLAIMED : undefined;
    const signedAt = new Date().toISOString();
    const entry: AuditEntry = {
      at: signedAt,
      kind: 'esign',
      terminalId: d.terminalId,
      tapId: d.tapId,
      bandId: d.bandId,
      outcome: dec.outcome,
      reason: dec.reason,
      user: dec.user,
      status: dec.status,
      decision: dec,
      ceremonyId: c.id,
      esignReason: c.reason,
      esignComment: c.comment,
      signer,
      secondSignerRequired: c.secondSignerRequired,
      recordHash: c.recordHash,
      audience: c.audience,
    };
    let assertion: Grant | undefined;
    if (dec.outcome === 'granted' && dec.user) {
      try {
        assertion = await this.issuer.issue({
          aud: c.audience,
          sub: dec.user.sAMAccountName,
          nonce: c.nonce,
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
            secondSignerRequired: c.secondSignerRequired,
            recordHash: c.recordHash,
            firstSignature: signer === 2 ? c.slots[0].jti : undefined,
          },
        });
        withheld = await this.confirmGrant({ ...entry, assertionId: assertion.jti }, d);
        if (!withheld && c.closed) {
          // The socket went away (or the ceremony expired) while this was being recorded.
          this.void({ ...entry, assertionId: assertion.jti }, UNRECORDED);
          withheld = UNRECORDED;
        }
      } finally {
        if (!withheld && assertion) {
          slot.state = 'signed';
          slot.assertion = assertion.jws;
          slot.jti = assertion.jti;
        } else {
          c.slots.splice(c.slots.indexOf(slot), 1);
        }
      }
      if (withheld) {
        assertion = undefined;
        dec = { ...dec, outcome: 'refused', ...withheld };
      }
    } else {
      this.audit.enqueue(entry);
    }
    if (c.closed) return withheld;
    conn.send('esign.signature', {
      ceremonyId: c.id,
      signer,
      outcome: assertion ? 'granted' : 'refused',
      decision: dec,
      assertion: assertion?.jws,
    });
    const needed = c.secondSignerRequired ? 2 : 1;
    if (c.slots.filter((x) => x.state === 'signed').length >= needed) {
      this.closeCeremony(conn, s, 'completed');
    }
    return withheld;
  }

  /** The socket closed: its pending login and open ceremony end as `abandoned`. */
  close(conn: Connection): void {
    const s = this.sessions.get(conn);
    if (!s) return;
    this.sessions.delete(conn);
    if (s.login) {
      clearTimeout(s.login.timer);
      s.login = undefined;
      this.audit.enqueue(this.loginClosing(conn, 'abandoned'));
    }
    this.closeCeremony(conn, s, 'abandoned');
  }

  /** The gateway stops: every open login and ceremony ends as `abandoned` (before the sockets close). */
  abandonAll(): number {
    let n = 0;
    for (const conn of [...this.sessions.keys()]) {
      const s = this.sessions.get(conn)!;
      if (s.ceremony) n++;
      this.close(conn);
    }
    return n;
  }

  /** A login is pending or a ceremony is open on this socket (a drain waits for them). */
  busy(conn: Connection): boolean {
    const s = this.sessions.get(conn);
    return s !== undefined && (s.login !== undefined || s.ceremony !== undefined);
  }

  /** Ceremonies open on this replica (the janitor leaves them alone). */
  isOpenHere(ceremonyId: string): boolean {
    for (const s of this.sessions.values()) if (s.ceremony?.id === ceremonyId) return true;
    return false;
  }
}

function terminalOf(conn: Connection): string {
  return conn.binding?.terminalId ?? conn.terminalId ?? 'unbound';
}
