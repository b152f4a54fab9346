import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { Counter } from '@opentelemetry/api';
import {
  ACCEPTS_STATUS_REUSE,
  UserStatusGet,
  UserStatusInvalidated,
  userNameToken,
  type StatusAnswer,
  type StatusQuery,
} from '@tapgate/contracts';
import type { Messaging, Unsubscribe } from '@tapgate/messaging';
import { getMeter } from '@tapgate/telemetry';
import { MESSAGING } from '../tokens';
import { TAP_POLICY_SOURCE, type TapPolicySource } from './tap-policy-source';

/**
 * At most this many answers are kept (about 1-2 KB each, with their directory evidence); past it the
 * oldest is forgotten first. A plant's workforce fits; beyond it, taps only ask user-status again.
 */
const MAX_REMEMBERED = 10_000;

interface Remembered {
  answer: StatusAnswer;
  /** Epoch ms (this gateway's clock) until which the answer may be reused. */
  until: number;
  policyRevision: number;
  connectionEpoch: number;
}

/** One query, as user-status's cache keys it: the name (case-insensitive) and the bound object. */
function queryKey(q: StatusQuery): string {
  return `${userNameToken(q.user)}\u0000${q.objectGUID ?? ''}`;
}

/**
 * The gateway's status memory: `active` answers user-status offered for reuse (StatusAnswer.reuse), so
 * the tap of a user checked moments ago costs no NATS request. user-status decides what is offered and
 * for how long, from the effective policy it applied (Check/Cache User Status on, and no longer than its
 * own cache would serve the entry); the gateway reuses an answer only
 * - for the same query (name and objectGUID), before its time is up (counted from when it was asked);
 * - while this gateway's policies bucket is at the revision user-status applied (a policy change, seen
 *   by either side, ends every reuse);
 * - within the NATS connection it was asked on (an invalidation may have been missed while away);
 * - until any UserStatusInvalidated arrives, which forgets everything.
 * Refusals are never remembered. docs/architecture.md, "The gateway's status memory", has the cases.
 */
@Injectable()
export class StatusMemory implements OnModuleInit, OnModuleDestroy {
  private readonly answers = new Map<string, Remembered>();
  /** Bumped by every invalidation: an answer asked for before one arrived is not remembered. */
  private generation = 0;
  private stopListening: Unsubscribe | undefined;
  private readonly lookups: Counter;

  constructor(
    @Inject(MESSAGING) private readonly messaging: Messaging,
    @Inject(TAP_POLICY_SOURCE) private readonly policies: TapPolicySource,
  ) {
    this.lookups = getMeter().createCounter('tapgate.gateway.status_memory', {
      description: 'User status lookups of the tap path by result: reused (no request) or asked',
    });
  }

  onModuleInit(): void {
    this.stopListening = this.messaging.subscribe(UserStatusInvalidated, () => this.forgetAll());
  }

  onModuleDestroy(): void {
    this.stopListening?.();
  }

  /** The status for `query`: remembered when that is allowed, else asked of user-status. */
  async ask(query: StatusQuery, opts: { timeoutMs: number; attempts: number }): Promise<StatusAnswer> {
    const key = queryKey(query);
    const known = this.answers.get(key);
    if (known) {
      if (
        Date.now() < known.until &&
        known.policyRevision === this.policies.policyRevision() &&
        known.connectionEpoch === this.messaging.connectionEpoch()
      ) {
        this.lookups.add(1, { result: 'reused' });
        return known.answer;
      }
      this.answers.delete(key);
    }
    this.lookups.add(1, { result: 'asked' });
    const generation = this.generation;
    const connectionEpoch = this.messaging.connectionEpoch();
    const askedAt = Date.now();
    const answer = await this.messaging.request(UserStatusGet, query, {
      ...opts,
      headers: { [ACCEPTS_STATUS_REUSE]: '1' },
    });
    if (
      answer.status === 'active' &&
      answer.reuse !== undefined &&
      generation === this.generation &&
      connectionEpoch !== undefined &&
      connectionEpoch === this.messaging.connectionEpoch()
    ) {
      if (this.answers.size >= MAX_REMEMBERED) this.answers.delete(this.answers.keys().next().value!);
      this.answers.set(key, {
        answer,
        until: askedAt + answer.reuse.forMs,
        policyRevision: answer.reuse.policyRevision,
        connectionEpoch,
      });
    }
    return answer;
  }

  private forgetAll(): void {
    this.generation++;
    this.answers.clear();
  }
}
