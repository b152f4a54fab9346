import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  NeaGroupsChanged,
  RefusalReason,
  addressToken,
  TapDecided,
  TapDeliver,
  tapDeliverSubject,
  type DeliveryAck,
  type Tap,
  type TapDecision,
} from '@tapgate/contracts';
import { RequestError, type Messaging } from '@tapgate/messaging';
import { createLogger, getTracer } from '@tapgate/telemetry';
import { GatewayMetrics } from '../metrics';
import { CeremonyProvider } from '../nea/ceremony-wiring';
import { frame, type Connection, type ServerFrame } from '../socket/connection';
import { GATEWAY_SETTINGS, MESSAGING } from '../tokens';
import { decisionAgeBounds, type GatewaySettings } from '../settings';
import { TapDecider } from './tap-decider';

const log = createLogger('taps');
const DECISION_TOO_OLD = {
  reason: RefusalReason.DecisionTooOld,
  message: 'The tap took too long to process; please tap again.',
} as const;

/**
 * The tap path on the endpoint's replica: decide, then hand the decision to whichever replica holds the
 * NEA clients bound to this terminal (or to the endpoint's address), and answer the endpoint with the
 * outcome. One tap is one trace: the span context travels to the delivering replica in NATS headers.
 */
@Injectable()
export class TapService implements OnModuleInit, OnModuleDestroy {
  /**
   * How many binding groups answered the last delivery to a terminal and address, and when: a delivery
   * whose acks reach that number is complete without the quiet wait. Forgotten when a gateway announces
   * a new group for the terminal or address; a group that went away costs one quiet wait, then is
   * remembered lower.
   */
  private readonly groupsAnswered = new Map<string, { groups: number; at: number }>();
  private stopWatching: (() => void) | undefined;

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(GATEWAY_SETTINGS) private readonly settings: GatewaySettings,
    private readonly decider: TapDecider,
    private readonly metrics: GatewayMetrics,
    private readonly ceremonies: CeremonyProvider,
  ) {}

  onModuleInit(): void {
    this.stopWatching = this.messaging.subscribe(NeaGroupsChanged, (added) => {
      for (const key of this.groupsAnswered.keys()) {
        const [terminal, address] = key.split(' ');
        if (terminal === added.terminalId || address === added.addressToken) this.groupsAnswered.delete(key);
      }
    });
  }

  onModuleDestroy(): void {
    this.stopWatching?.();
  }

  async handle(conn: Connection, tap: Tap, ref: string | undefined): Promise<ServerFrame<'tap.result'>> {
    const started = performance.now();
    const span = getTracer().startSpan('tap', {
      kind: SpanKind.SERVER,
      attributes: {
        'tapgate.terminal': conn.terminalId,
        'tapgate.tap.kind': tap.kind,
        'tapgate.tap.id': tap.tapId,
      },
    });
    return context.with(trace.setSpan(context.active(), span), async () => {
      const now = Date.now();
      let decision: TapDecision;
      try {
        decision = await this.decider.decide(conn, tap, now);
      } catch (e) {
        log.error({ err: e, tap: tap.tapId }, 'tap decision failed');
        decision = {
          outcome: 'refused',
          reason: RefusalReason.Internal,
          message: 'internal error',
          identifiedBy: 'none',
        };
      }
      let deliveredTo = 0;
      // A decision is acted on only while it is young (see decisionAgeBounds): if this replica hung
      // while deciding, nothing is delivered; else it waits for the application's replica no longer
      // than that replica may still act, plus a grace for the answer to travel.
      const { maxAgeMs, endpointWaitMs } = decisionAgeBounds(this.settings.tapTimeoutMs);
      if (Date.now() - now >= maxAgeMs) {
        decision = { ...decision, outcome: 'refused', ...DECISION_TOO_OLD };
      } else {
        try {
          const deadline = now + endpointWaitMs;
          const groupsKey = `${conn.terminalId!} ${addressToken(conn.address)}`;
          const known = this.groupsAnswered.get(groupsKey);
          const expected = known && Date.now() - known.at < GROUPS_TRUSTED_MS ? known.groups : Infinity;
          const acks = await answeredWithin(deadline, (backstopMs) =>
            this.messaging.requestAll(
              TapDeliver,
              {
                v: 1,
                tapId: tap.tapId,
                terminalId: conn.terminalId!,
                kind: tap.kind,
                bandId: tap.bandId,
                decision,
                receivedAt: new Date(now).toISOString(),
              },
              {
                subject: tapDeliverSubject(conn.terminalId!, conn.address),
                timeoutMs: backstopMs,
                // Every binding group (explicit, implicit; on any replica) answers: collect them all.
                quietMs: DELIVERY_QUIET_MS,
                settleBy: deadline - 1,
                outstanding: unsettled,
                complete: (acks) => groupsIn(acks) >= expected && !unsettled(acks),
              },
            ),
          );
          if (this.groupsAnswered.size >= MAX_REMEMBERED) this.groupsAnswered.clear();
          this.groupsAnswered.set(groupsKey, { groups: groupsIn(acks), at: Date.now() });
          deliveredTo = acks.reduce((n, a) => n + a.delivered, 0);
          // An application's replica withheld the grant (too old, or not recordable): say the same.
          const refusal = acks.find((a) => a.refusal)?.refusal;
          if (refusal) decision = { ...decision, outcome: 'refused', ...refusal };
        } catch (e) {
          const kind = e instanceof RequestError ? e.kind : 'closed';
          if (decision.outcome === 'granted' || kind !== 'no_responders') {
            // A grant nobody received is not a grant: the endpoint learns why.
            decision =
              kind === 'no_responders'
                ? {
                    ...decision,
                    outcome: 'refused',
                    reason: RefusalReason.NoListener,
                    message: 'no application is listening on this terminal',
                  }
                : kind === 'timeout'
                  ? { ...decision, outcome: 'refused', ...DECISION_TOO_OLD }
                  : {
                      ...decision,
                      outcome: 'refused',
                      reason: RefusalReason.Internal,
                      message: `delivery failed (${kind})`,
                    };
          }
        }
      }
      if (deliveredTo === 0 && decision.outcome === 'granted') {
        decision = {
          ...decision,
          outcome: 'refused',
          reason: RefusalReason.NoListener,
          message: 'no application received the tap',
        };
      }
      const elapsed = performance.now() - started;
      const attrs = { outcome: decision.outcome, reason: decision.reason ?? 'none' };
      this.metrics.tapLatency.record(elapsed, attrs);
      this.metrics.taps.add(1, attrs);
      span.setAttributes({
        'tapgate.outcome': decision.outcome,
        'tapgate.reason': decision.reason ?? 'none',
      });
      if (decision.outcome === 'refused') {
        span.setStatus({ code: SpanStatusCode.OK, message: decision.reason });
      }
      span.end();
      log.info(
        {
          tap: tap.tapId,
          terminal: conn.terminalId,
          band: tap.bandId,
          outcome: decision.outcome,
          reason: decision.reason,
          deliveredTo,
        },
        'tap decided',
      );
      this.announce(conn, tap, decision, deliveredTo, now);
      return frame(
        'tap.result',
        { tapId: tap.tapId, decision, deliveredTo, challenge: conn.challenges?.issue(Date.now()) },
        ref,
      );
    });
  }

  /**
   * Tells the console (and anyone else) how the tap ended; informational, so NATS trouble is ignored.
   * The tap's audit record is queued too (kind `tap`): every tap is in the trail as its endpoint was
   * answered, also one no login or e-signature used. Queued, not awaited: it grants nothing.
   */
  private announce(
    conn: Connection,
    tap: Tap,
    decision: TapDecision,
    deliveredTo: number,
    now: number,
  ): void {
    this.ceremonies.trail.enqueue({
      v: 1,
      gateway: this.settings.gatewayId,
      at: new Date(now).toISOString(),
      kind: 'tap',
      terminalId: conn.terminalId!,
      tapId: tap.tapId,
      bandId: tap.bandId,
      outcome: decision.outcome,
      reason: decision.reason,
      user: decision.user,
      status: decision.status,
      decision,
    });
    try {
      this.messaging.publish(TapDecided, {
        v: 1,
        terminalId: conn.terminalId!,
        tapId: tap.tapId,
        kind: tap.kind,
        bandId: tap.bandId,
        decision,
        deliveredTo,
        gateway: this.settings.gatewayId,
        at: new Date(now).toISOString(),
      });
    } catch {
      // not connected: the endpoint already has its answer
    }
  }
}

/**
 * Waits for `ask` until `deadline` (epoch ms), then rejects like a request timeout. The application's
 * replica never acts on a decision past its age bound (it answers with a refusal instead), so any
 * answer it sends is the truth. If this process was stopped (the timer fires late), the answer may
 * already sit in the socket while the timer is due too: it gets STALL_READ_MS to be read first.
 */
function answeredWithin<T>(deadline: number, ask: (backstopMs: number) => Promise<T>): Promise<T> {
  // The request's own timeout is only a backstop: after a stall it would be due as well, and would
  // fire in the same timers phase as ours, before the answer waiting in the socket is read.
  const answer = ask(Math.max(1, deadline - Date.now()) + BACKSTOP_MS);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    const fail = () => reject(new RequestError('timeout', TapDeliver.subject, 'delivery timed out'));
    timer = setTimeout(
      () => {
        if (Date.now() - deadline > STALLED_MS) timer = setTimeout(fail, STALL_READ_MS);
        else fail();
      },
      Math.max(1, deadline - Date.now()),
    );
  });
  return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}

/**
 * How long the endpoint's replica waits, after an ack, for the next binding group's, unless as many
 * groups answered as last time. Groups send their `handed` ack as soon as their sockets have the tap,
 * so their acks arrive within a NATS hop of each other; a group still settling (a login or ceremony
 * using the tap) is waited for regardless.
 */
export const DELIVERY_QUIET_MS = 15;

/** A remembered group count is trusted this long (a missed NeaGroupsChanged heals by then). */
const GROUPS_TRUSTED_MS = 30_000;
/** Bound on remembered (terminal, address) pairs; about one per endpoint on this replica. */
const MAX_REMEMBERED = 100_000;

/** Binding groups that answered: each sends one ack that is not a `settled` follow-up. */
function groupsIn(acks: DeliveryAck[]): number {
  return acks.filter((a) => a.stage !== 'settled').length;
}

/** True while a group that handed the tap to its sockets has not yet said how they used it. */
function unsettled(acks: DeliveryAck[]): boolean {
  let open = 0;
  for (const a of acks) open += a.stage === 'handed' ? 1 : a.stage === 'settled' ? -1 : 0;
  return open > 0;
}

/** A timer this late means the process was not running (SIGSTOP, a VM pause, a long GC). */
const STALLED_MS = 100;
const STALL_READ_MS = 250;
const BACKSTOP_MS = 60_000;
