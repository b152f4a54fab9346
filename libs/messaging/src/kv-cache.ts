import { receiving } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import type { KV, KvEntry, KvOptions } from 'nats';
import type { z } from 'zod';
import type { Messaging } from './messaging';

const log = createLogger('kv-cache');

/** Options every writer and reader of a Tapgate bucket uses, so whoever creates it first creates the same. */
export const KV_BUCKET_OPTIONS = { history: 10 } as const;

/** Opens (creating when missing) a Tapgate KV bucket. */
export async function openBucket(messaging: Messaging, bucket: string): Promise<KV> {
  return openKv(messaging, bucket, KV_BUCKET_OPTIONS);
}

/** Buckets known to have a stream leader, per connection: checked once, not on every open. */
const led = new WeakMap<Messaging, Set<string>>();
const LEADER_WAIT_MS = 10_000;

/**
 * Opens (creating when missing) a KV bucket with `opts` and the connection's `[nats] replicas`. With
 * more than one replica, waits (at most 10 s) until the bucket's stream has a leader: a freshly created
 * replicated stream takes a moment to elect one, and a write before that finds no responder.
 */
export async function openKv(
  messaging: Messaging,
  bucket: string,
  opts: Partial<KvOptions> = {},
): Promise<KV> {
  const nc = await messaging.connection();
  const kv = await nc.jetstream().views.kv(bucket, { ...opts, replicas: messaging.jetstreamReplicas });
  const known = led.get(messaging) ?? new Set<string>();
  led.set(messaging, known);
  if (messaging.jetstreamReplicas > 1 && !known.has(bucket)) {
    const jsm = await nc.jetstreamManager();
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      const info = await jsm.streams.info(`KV_${bucket}`).catch(() => undefined);
      if (info?.cluster?.leader) break;
      if (Date.now() > deadline) {
        throw new Error(`KV bucket ${bucket}: no stream leader within ${LEADER_WAIT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    known.add(bucket);
  }
  return kv;
}

/**
 * A local read cache of one KV bucket, fed by a watch, so hot paths never ask NATS. Records that fail
 * their schema are dropped (and logged): a corrupt enrollment must read as "unknown", never as valid.
 * `map` derives what the hot path needs once per change (e.g. an imported public key).
 */
export class KvCache<T, V = T> {
  private readonly entries = new Map<string, V>();
  private initialized = false;
  private stopped = false;
  private lastRevision = 0;
  private iter: { stop(): void } | undefined;
  private readonly listeners: Array<(key: string, value: V | undefined) => void> = [];

  constructor(
    private readonly messaging: Messaging,
    private readonly bucket: string,
    private readonly schema: z.ZodType<T>,
    private readonly map: (record: T) => V = (r) => r as unknown as V,
  ) {}

  /** Starts watching in the background; `ready()` turns true once the initial values are loaded. */
  start(): void {
    void this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const kv = await openBucket(this.messaging, this.bucket);
        const iter = await kv.watch({
          initializedFn: () => {
            this.initialized = true;
            log.info({ bucket: this.bucket, entries: this.entries.size }, 'kv cache loaded');
          },
        });
        this.iter = iter;
        for await (const e of iter) {
          if (this.stopped) break;
          this.apply(e);
        }
      } catch (e) {
        if (this.stopped) return;
        log.warn({ bucket: this.bucket, err: (e as Error).message }, 'kv watch failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  private apply(e: KvEntry): void {
    this.lastRevision = Math.max(this.lastRevision, e.revision);
    if (e.operation === 'DEL' || e.operation === 'PURGE') {
      this.entries.delete(e.key);
      this.emit(e.key, undefined);
      return;
    }
    let value: V | undefined;
    try {
      // Records written by a newer service may hold fields this one does not know (docs/protocol.md §11).
      const parsed = receiving(this.schema).safeParse(JSON.parse(new TextDecoder().decode(e.value)));
      if (parsed.success) value = this.map(parsed.data);
      else {
        log.error(
          { bucket: this.bucket, key: e.key, problem: parsed.error.message },
          'invalid kv record ignored',
        );
      }
    } catch (err) {
      log.error(
        { bucket: this.bucket, key: e.key, err: (err as Error).message },
        'unreadable kv record ignored',
      );
    }
    if (value === undefined) this.entries.delete(e.key);
    else this.entries.set(e.key, value);
    this.emit(e.key, value);
  }

  private emit(key: string, value: V | undefined): void {
    for (const l of this.listeners) l(key, value);
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  /**
   * The bucket's revision this cache has applied (the highest of the entries and deletions seen; every
   * watcher of a bucket reaches the same number once it has caught up), undefined until loaded.
   */
  revision(): number | undefined {
    return this.initialized ? this.lastRevision : undefined;
  }

  /** True once the initial contents are loaded. Until then, lookups must be treated as unavailable. */
  ready(): boolean {
    return this.initialized;
  }

  onChange(listener: (key: string, value: V | undefined) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    this.stopped = true;
    this.iter?.stop();
  }
}
