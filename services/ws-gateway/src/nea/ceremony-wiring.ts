import { createHash } from 'node:crypto';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { AssertionSigner } from '@tapgate/assertions';
import { AuditTrail } from '@tapgate/audit';
import { KvBuckets, OpenCeremonyRecord, TAP_CLAIM_TTL_MS, receiving } from '@tapgate/contracts';
import { openKv, type Messaging } from '@tapgate/messaging';
import { createLogger } from '@tapgate/telemetry';
import { ErrorCode, NatsError, type KV } from 'nats';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import { decisionAgeBounds, type GatewaySettings } from '../settings';
import { TAP_POLICY_SOURCE, type TapPolicySource } from '../tap/tap-policy-source';
import {
  Ceremonies,
  type AuditEntry,
  type AuditSink,
  type OpenCeremony,
  type OpenCeremonyLedger,
  type TapClaims,
} from './ceremonies';

const log = createLogger('ceremony-wiring');
// JetStream "wrong last sequence": a KV create of an existing key, or a delete with a stale revision.
const WRONG_LAST_SEQUENCE = 10071;
/** How long after its deadline an open ceremony counts as abandoned by a dead gateway. */
export const ABANDONED_AFTER_MS = 5_000;
/** How often each replica's janitor looks for abandoned ceremonies. */
export const JANITOR_INTERVAL_MS = 2_000;
/** Open ceremonies are forgotten by NATS after a day, whatever happened (longest ceremony: 1 h). */
const OPEN_CEREMONY_TTL_MS = 24 * 3600_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const isWrongSequence = (e: unknown) =>
  e instanceof NatsError && e.api_error?.err_code === WRONG_LAST_SEQUENCE;

/**
 * 503 (no responders): no server took the write, because the bucket's stream has no leader at that
 * moment (an election after a node was lost, or after a partition healed). Nothing was stored, so the
 * claim may be tried again; a try that did store and lost its answer makes the next one see the key
 * taken (refused, never granted twice).
 */
const isNoLeader = (e: unknown) => e instanceof NatsError && e.code === ErrorCode.NoResponders;
/** Pause between claim tries while the tap-claims stream elects a leader. */
const CLAIM_RETRY_PAUSE_MS = 250;

/** Opens a KV bucket once and reuses it; a failure is retried on the next call. */
function bucket(messaging: Messaging, name: string, opts: { ttl: number }): () => Promise<KV> {
  let kv: Promise<KV> | undefined;
  return () => {
    kv ??= openKv(messaging, name, { history: 1, ttl: opts.ttl }).catch((e: unknown) => {
      kv = undefined;
      throw e;
    });
    return kv;
  };
}

/** Rejects after `ms`: a KV call must not hold a tap longer than its decision may live. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Builds the login and e-signature machinery from config: the assertion signer ([assertions]), the
 * audit trail ([audit], a JetStream stream), the cross-replica tap claims and the open-ceremony ledger
 * (JetStream KV). Without signing keys, login and e-signature requests are refused with "unavailable"
 * (and /readyz says so); taps are still delivered.
 */
@Injectable()
export class CeremonyProvider implements OnModuleInit, OnModuleDestroy {
  readonly signer: AssertionSigner | undefined;
  readonly trail: AuditTrail;
  readonly ceremonies: Ceremonies;
  private streamReady = false;
  private readonly claimsKv: () => Promise<KV>;
  private readonly openKv: () => Promise<KV>;
  /** Revisions of this replica's ledger entries (pending while the create is in flight). */
  private readonly ledgerRevisions = new Map<string, Promise<number | undefined>>();
  private readonly closings = new Set<Promise<unknown>>();
  private janitor: NodeJS.Timeout | undefined;
  private drainingValue = false;

  constructor(
    @Inject(MESSAGING) messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    @Inject(TAP_POLICY_SOURCE) policies: TapPolicySource,
  ) {
    const a = settings.assertions;
    this.signer =
      a.signingKeys.length > 0
        ? new AssertionSigner({ signingKeys: a.signingKeys, issuer: a.issuer, ttlSeconds: a.ttlSeconds })
        : undefined;
    this.trail = new AuditTrail(messaging, settings.audit);
    this.claimsKv = bucket(messaging, KvBuckets.tapClaims, { ttl: TAP_CLAIM_TTL_MS });
    this.openKv = bucket(messaging, KvBuckets.openCeremonies, { ttl: OPEN_CEREMONY_TTL_MS });
    const signer = this.signer;
    const { maxAgeMs } = decisionAgeBounds(settings.tapTimeoutMs);
    const audit: AuditSink = {
      append: (entry) => this.store(entry),
      enqueue: (entry) => this.trail.enqueue({ v: 1, gateway: this.settings.gatewayId, ...entry }),
    };
    this.ceremonies = new Ceremonies(
      settings.gatewayId,
      {
        issue: async (claims) => {
          if (!signer) throw new Error('assertion signing is not configured');
          const signed = await signer.sign(claims);
          return { jws: signed.jws, jti: signed.jti };
        },
      },
      audit,
      this.tapClaims(maxAgeMs),
      this.ledger(),
      {
        esignTimeoutMs: () => policies.esignTimeoutMs(),
        secondSignerMustDiffer: () => policies.secondSignerMustDiffer(),
        maxDecisionAgeMs: maxAgeMs,
      },
    );
  }

  private async store(entry: AuditEntry): Promise<void> {
    await this.trail.append({ v: 1, gateway: this.settings.gatewayId, ...entry });
  }

  /** First `create` of `<kind>.<sha256(terminal, tap id)>` wins; hashed to fit the KV key rules. */
  private tapClaims(maxAgeMs: number): TapClaims {
    return {
      claim: async (kind, tap, holder) => {
        const id = createHash('sha256').update(`${tap.terminalId}\n${tap.tapId}`).digest('hex');
        const key = `${kind}.${id}`;
        const deadline = Date.now() + maxAgeMs;
        for (;;) {
          try {
            const kv = await within(this.claimsKv(), deadline - Date.now(), 'opening the tap-claims bucket');
            await within(
              kv.create(key, JSON.stringify({ holder, at: new Date().toISOString() })),
              deadline - Date.now(),
              'tap claim',
            );
            return true;
          } catch (e) {
            if (isWrongSequence(e)) return false;
            if (!isNoLeader(e) || Date.now() + CLAIM_RETRY_PAUSE_MS >= deadline) throw e;
            log.debug({ tap: tap.tapId }, 'tap-claims stream has no leader; claiming again');
            await new Promise((resolve) => setTimeout(resolve, CLAIM_RETRY_PAUSE_MS));
          }
        }
      },
    };
  }

  private ledger(): OpenCeremonyLedger {
    return {
      opened: (c: OpenCeremony) => {
        const record: OpenCeremonyRecord = {
          v: 1,
          ceremonyId: c.ceremonyId,
          terminalId: c.terminalId,
          gateway: this.settings.gatewayId,
          reason: c.reason,
          audience: c.audience,
          secondSignerRequired: c.secondSignerRequired,
          recordHash: c.recordHash,
          deadline: new Date(c.deadline).toISOString(),
        };
        const rev = within(
          this.openKv().then((kv) => kv.create(c.ceremonyId, JSON.stringify(record))),
          5000,
          'recording an open ceremony',
        ).catch((e: unknown) => {
          log.warn({ err: (e as Error).message, ceremony: c.ceremonyId }, 'open ceremony not in the ledger');
          return undefined;
        });
        this.ledgerRevisions.set(c.ceremonyId, rev);
      },
      closing: (ceremonyId) => {
        const p = this.removeFromLedger(ceremonyId);
        this.closings.add(p);
        void p.finally(() => this.closings.delete(p));
        return p;
      },
    };
  }

  /** True unless another replica removed the entry first (then its closing record stands). */
  private async removeFromLedger(ceremonyId: string): Promise<boolean> {
    const rev = await this.ledgerRevisions.get(ceremonyId);
    this.ledgerRevisions.delete(ceremonyId);
    if (rev === undefined) return true;
    try {
      const kv = await within(this.openKv(), 5000, 'opening the open-ceremonies bucket');
      await within(kv.delete(ceremonyId, { previousSeq: rev }), 5000, 'closing a ceremony in the ledger');
      return true;
    } catch (e) {
      if (isWrongSequence(e)) return false;
      // NATS is away: the closing record is written anyway (a missing one is worse than a duplicate,
      // which only happens if this outage outlasts ABANDONED_AFTER_MS and a janitor acts meanwhile).
      log.warn({ err: (e as Error).message, ceremony: ceremonyId }, 'ledger not updated');
      return true;
    }
  }

  /**
   * Closes ceremonies whose gateway is gone (killed, not stopped): any open-ceremony entry past its
   * deadline by ABANDONED_AFTER_MS that is not open on this replica. The delete with the expected
   * revision is the atomic claim: of several janitors (and a late owner) exactly one writes the record.
   */
  async sweepAbandoned(now = Date.now()): Promise<number> {
    const kv = await this.openKv();
    let closed = 0;
    for await (const key of await kv.keys()) {
      if (this.ceremonies.isOpenHere(key) || this.ledgerRevisions.has(key)) continue;
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      const parsed = receiving(OpenCeremonyRecord).safeParse(entry.json());
      if (parsed.success && Date.parse(parsed.data.deadline) + ABANDONED_AFTER_MS > now) continue;
      try {
        await kv.delete(key, { previousSeq: entry.revision });
      } catch (e) {
        if (isWrongSequence(e)) continue;
        throw e;
      }
      if (!parsed.success) {
        log.error({ key }, 'invalid open-ceremony entry removed');
        continue;
      }
      const r = parsed.data;
      this.trail.enqueue({
        v: 1,
        gateway: this.settings.gatewayId,
        at: new Date().toISOString(),
        kind: 'esign',
        terminalId: r.terminalId,
        outcome: 'abandoned',
        ceremonyId: r.ceremonyId,
        esignReason: r.reason,
        secondSignerRequired: r.secondSignerRequired,
        recordHash: r.recordHash,
        audience: r.audience,
      });
      log.warn({ ceremony: r.ceremonyId, gateway: r.gateway }, 'closed a ceremony abandoned by its gateway');
      closed++;
    }
    return closed;
  }

  onModuleInit(): void {
    // The stream is created in the background: NATS may not be reachable yet.
    const ensure = async (): Promise<void> => {
      for (;;) {
        try {
          await this.trail.ensureStream();
          this.streamReady = true;
          return;
        } catch (e) {
          log.warn({ err: (e as Error).message }, 'audit stream not ready; retrying');
          await sleep(1000);
        }
      }
    };
    void ensure();
    let sweeping = false;
    this.janitor = setInterval(() => {
      if (sweeping || !this.signer) return;
      sweeping = true;
      this.sweepAbandoned()
        .catch((e: unknown) => log.warn({ err: (e as Error).message }, 'abandoned-ceremony sweep failed'))
        .finally(() => (sweeping = false));
    }, JANITOR_INTERVAL_MS);
    this.janitor.unref();
  }

  async onModuleDestroy(): Promise<void> {
    clearInterval(this.janitor);
    // Records still waiting stay in the spool journal (with [audit] spool_dir) for the next start.
    await this.trail.close();
  }

  /**
   * Graceful stop (before the sockets close): every open login and ceremony is closed as `abandoned`
   * and the queued records are stored while NATS is still connected (at most `ms`).
   */
  async drain(ms = 5000): Promise<void> {
    clearInterval(this.janitor);
    const n = this.ceremonies.abandonAll();
    if (n > 0) log.info({ ceremonies: n }, 'open ceremonies abandoned at shutdown');
    const deadline = Date.now() + ms;
    await Promise.race([Promise.allSettled([...this.closings]), sleep(ms)]);
    if (!(await this.trail.drained(Math.max(0, deadline - Date.now())))) {
      log.error({ waiting: this.trail.waiting() }, 'audit records not stored at shutdown');
    }
  }

  /** The replica stops: new logins and ceremonies are refused (`draining`); those open may finish. */
  startDraining(): void {
    this.drainingValue = true;
  }

  get draining(): boolean {
    return this.drainingValue;
  }

  /** Login and e-signature can be offered: keys configured and the audit stream exists. */
  available(): boolean {
    return this.signer !== undefined && this.streamReady;
  }

  jwks(): { keys: unknown[] } {
    return this.signer ? this.signer.jwks() : { keys: [] };
  }
}
