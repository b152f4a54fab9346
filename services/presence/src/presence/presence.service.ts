import { Inject, Injectable } from '@nestjs/common';
import type { Counter, Histogram } from '@opentelemetry/api';
import {
  PresenceChanged,
  presenceChangedSubject,
  type AdvertBatch,
  type PresenceAnswer,
  type PresenceChange,
} from '@tapgate/contracts';
import { Messaging, RemoteError } from '@tapgate/messaging';
import { createLogger, getMeter, rateLimitedLog } from '@tapgate/telemetry';
import type { Clock } from './clock';
import { CLOCK, PRESENCE_SETTINGS } from './presence.constants';
import type { PresenceSettings } from './presence-settings';
import { toBandPresence } from './presence-snapshot';
import { PresenceStore, type BandEvaluation } from './presence-store';

/**
 * Presence logic: apply relayed adverts, answer "where is band X", and publish each change of level,
 * authenticated flag or strongest terminal once. State lives only in Redis, so replicas are
 * interchangeable and a restart loses nothing.
 */
@Injectable()
export class PresenceService {
  private readonly log = createLogger(PresenceService.name);
  /** Per query, so per tap while Redis is down: one line per window with the count. */
  private readonly warnQueryFailed = rateLimitedLog(this.log, 'presence query failed');
  private readonly adverts: Counter;
  private readonly changes: Counter;
  private readonly queries: Counter;
  private readonly failures: Counter;
  private readonly sweepDuration: Histogram;
  /** End of the interval the last successful sweep covered; undefined = catch up over the whole TTL. */
  private sweptUntil: number | undefined;

  constructor(
    private readonly store: PresenceStore,
    private readonly messaging: Messaging,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(PRESENCE_SETTINGS) private readonly settings: PresenceSettings,
  ) {
    const meter = getMeter();
    this.adverts = meter.createCounter('tapgate.presence.adverts', { description: 'Band adverts applied' });
    this.changes = meter.createCounter('tapgate.presence.changes', {
      description: 'Presence changes published',
    });
    this.queries = meter.createCounter('tapgate.presence.queries', {
      description: 'PresenceGet answers by result',
    });
    this.failures = meter.createCounter('tapgate.presence.failures', {
      description: 'Presence operations that failed',
    });
    this.sweepDuration = meter.createHistogram('tapgate.presence.sweep.duration', {
      description: 'Duration of one silence sweep',
      unit: 'ms',
    });
  }

  async applyAdverts(batch: AdvertBatch): Promise<void> {
    const now = this.clock.now();
    let evaluations: BandEvaluation[];
    try {
      evaluations = await this.store.observe(batch, now);
    } catch (e) {
      this.failures.add(1, { operation: 'adverts' });
      this.log.warn({ err: errorText(e), terminalId: batch.terminalId }, 'could not apply adverts');
      return;
    }
    this.adverts.add(batch.adverts.length);
    this.publish(evaluations, now, 'advert');
  }

  /** Throws (an error reply to the asker) when Redis cannot answer: presence is then unknown, never "yes". */
  async get(bandId: string): Promise<PresenceAnswer> {
    const now = this.clock.now();
    try {
      const { after } = await this.store.read(bandId, now);
      this.queries.add(1, { result: after ? 'known' : 'unknown' });
      return after ? { v: 1, known: true, band: toBandPresence(bandId, after) } : { v: 1, known: false };
    } catch (e) {
      this.queries.add(1, { result: 'error' });
      this.failures.add(1, { operation: 'get' });
      this.warnQueryFailed({ err: errorText(e), bandId });
      throw new RemoteError('unavailable', 'presence state unavailable');
    }
  }

  /**
   * Publishes silence transitions: bands whose time since the last advert crossed 5, 15 or 60 s
   * since the previous sweep. A failed sweep leaves its interval to the next one, so an outage of
   * Redis delays transitions but does not lose them.
   */
  async sweep(): Promise<void> {
    // Not connected (yet): nothing can be read; the interval stays due for the first sweep that can.
    if (!this.store.isReady()) return;
    const started = performance.now();
    const now = this.clock.now();
    const from = Math.max(this.sweptUntil ?? -Infinity, now - this.settings.stateTtlMs);
    if (now <= from) return;
    try {
      const bands = await this.store.silentBands(from, now);
      for (let i = 0; i < bands.length; i += 500) {
        this.publish(await this.store.reevaluate(bands.slice(i, i + 500), now), now, 'silence');
      }
      this.sweptUntil = now;
    } catch (e) {
      this.failures.add(1, { operation: 'sweep' });
      this.log.warn({ err: errorText(e) }, 'presence sweep failed; will retry');
    } finally {
      this.sweepDuration.record(performance.now() - started);
    }
  }

  private publish(evaluations: readonly BandEvaluation[], now: number, cause: 'advert' | 'silence'): void {
    const at = new Date(now).toISOString();
    for (const e of evaluations) {
      if (!e.changed || !e.after) continue;
      const after = toBandPresence(e.bandId, e.after);
      const before = e.before ? toBandPresence(e.bandId, e.before) : undefined;
      // The terminal the band is at now and, when it moved, the one it left.
      const terminals = new Set([e.after.strongest, ...(e.before ? [e.before.strongest] : [])]);
      for (const terminalId of terminals) {
        const change: PresenceChange = { v: 1, terminalId, after, at, ...(before ? { before } : {}) };
        try {
          this.messaging.publish(PresenceChanged, change, presenceChangedSubject(terminalId));
          this.changes.add(1, { cause });
        } catch (err) {
          this.failures.add(1, { operation: 'publish' });
          this.log.warn(
            { err: errorText(err), bandId: e.bandId, terminalId },
            'could not publish presence change',
          );
        }
      }
      this.log.debug(
        {
          bandId: e.bandId,
          cause,
          before: before?.presence,
          after: after.presence,
          authenticated: after.authenticated,
        },
        'presence changed',
      );
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
