import type { AdvertBatch } from '@tapgate/contracts';
import type { RedisSettings } from '@tapgate/config';
import { createRedisClient, type RedisBehaviour } from '@tapgate/redis';
import type { ChainableCommander, Redis } from 'ioredis';
import { EVALUATE_SCRIPT, OBSERVE_SCRIPT } from './presence-scripts';
import { LEVEL_AFTER_MS, type PresenceSettings } from './presence-settings';
import { parseEvaluation, type Evaluation } from './presence-snapshot';

const PREFIX = 'tapgate:presence';
/** Sorted set: band id scored by the ms of its last advert; the sweep's index of silent bands. */
export const LAST_SEEN_KEY = `${PREFIX}:last-seen`;
export const stateKey = (bandId: string): string => `${PREFIX}:{${bandId}}:state`;
export const publishedKey = (bandId: string): string => `${PREFIX}:{${bandId}}:pub`;

/** The scripts as ioredis commands (defineCommand adds them to the client and to its pipelines). */
interface ScriptCommands<R> {
  presenceObserve(state: string, pub: string, ...args: Array<string | number>): R;
  presenceEvaluate(state: string, pub: string, ...args: Array<string | number>): R;
}
type PresenceRedis = Redis & ScriptCommands<Promise<unknown>>;
type PresencePipeline = ChainableCommander & ScriptCommands<ChainableCommander>;
type PipelineResults = Array<[error: Error | null, result: unknown]> | null;

export interface BandEvaluation extends Evaluation {
  bandId: string;
}

/**
 * Fail fast instead of queueing: a presence answer from a Redis that is down must become an error
 * reply (presence unknown, policy decides) within the gateway's request timeout, not a late success.
 */
export function presenceRedisBehaviour(): RedisBehaviour {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
    lazyConnect: false,
    // Commands of the same tick share one socket write (the syscall dominates under load).
    enableAutoPipelining: true,
  };
}

/** Band presence state in Redis: every read and write goes through the atomic scripts above. */
export class PresenceStore {
  readonly redis: PresenceRedis;

  constructor(
    redisSettings: RedisSettings,
    private readonly settings: PresenceSettings,
  ) {
    const redis = createRedisClient(redisSettings, presenceRedisBehaviour());
    redis.defineCommand('presenceObserve', { numberOfKeys: 2, lua: OBSERVE_SCRIPT });
    redis.defineCommand('presenceEvaluate', { numberOfKeys: 2, lua: EVALUATE_SCRIPT });
    // Errors surface on the commands; without a listener ioredis would print every reconnect failure.
    redis.on('error', () => undefined);
    this.redis = redis as PresenceRedis;
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  /** Applies a batch (one terminal), one script run per band; returns each band's evaluation. */
  async observe(batch: AdvertBatch, now: number): Promise<BandEvaluation[]> {
    const byBand = new Map<string, Array<string | number>>();
    for (const a of batch.adverts) {
      const seenAt = Date.parse(a.seenAt);
      const args = byBand.get(a.bandId) ?? [];
      args.push(batch.terminalId, a.rssi, a.state, Number.isFinite(seenAt) ? seenAt : now);
      byBand.set(a.bandId, args);
    }
    const s = this.settings;
    const pipeline = this.redis.pipeline() as PresencePipeline;
    const bands = [...byBand.keys()];
    for (const [bandId, args] of byBand) {
      pipeline.presenceObserve(
        stateKey(bandId),
        publishedKey(bandId),
        now,
        s.stateTtlMs,
        s.ewmaAlpha,
        s.terminalWindowMs,
        s.strongestMarginDb,
        args.length / 4,
        ...args,
      );
    }
    // GT: a slower replica can never move a band's last-seen backwards.
    for (const bandId of bands) pipeline.zadd(LAST_SEEN_KEY, 'GT', now, bandId);
    return this.collect(await pipeline.exec(), bands);
  }

  /** The band as of `now`, without storing anything. Undefined = never seen or expired. */
  async read(bandId: string, now: number): Promise<BandEvaluation> {
    const s = this.settings;
    const reply = await this.redis.presenceEvaluate(
      stateKey(bandId),
      publishedKey(bandId),
      now,
      s.terminalWindowMs,
      s.strongestMarginDb,
      0,
    );
    return { bandId, ...parseEvaluation(reply) };
  }

  /**
   * Bands whose silence crossed a level boundary in (from, now]: last + boundary in that interval.
   * Also drops index entries of bands whose state has expired.
   */
  async silentBands(from: number, now: number): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    pipeline.zremrangebyscore(LAST_SEEN_KEY, '-inf', `(${now - this.settings.stateTtlMs}`);
    for (const after of Object.values(LEVEL_AFTER_MS)) {
      pipeline.zrangebyscore(LAST_SEEN_KEY, `(${from - after}`, now - after);
    }
    const results = (await pipeline.exec()) ?? [];
    const bands = new Set<string>();
    for (const [err, value] of results.slice(1)) {
      if (err) throw err;
      for (const id of value as string[]) bands.add(id);
    }
    return [...bands];
  }

  /** Re-evaluates bands and compare-and-sets their snapshots (the sweep). */
  async reevaluate(bandIds: readonly string[], now: number): Promise<BandEvaluation[]> {
    const s = this.settings;
    const pipeline = this.redis.pipeline() as PresencePipeline;
    for (const bandId of bandIds) {
      pipeline.presenceEvaluate(
        stateKey(bandId),
        publishedKey(bandId),
        now,
        s.terminalWindowMs,
        s.strongestMarginDb,
        1,
      );
    }
    return this.collect(await pipeline.exec(), bandIds);
  }

  private collect(results: PipelineResults, bands: readonly string[]): BandEvaluation[] {
    if (!results) throw new Error('presence store: pipeline aborted');
    return bands.map((bandId, i) => {
      const [err, reply] = results[i] ?? [new Error('missing reply'), undefined];
      if (err) throw err;
      return { bandId, ...parseEvaluation(reply) };
    });
  }

  async close(): Promise<void> {
    if (this.redis.status === 'end') return;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
