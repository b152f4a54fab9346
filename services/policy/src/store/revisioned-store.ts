import { receiving } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import type { KV, KvEntry } from 'nats';
import type { z } from 'zod';
import { ApiError, notFound } from '../common/api-error';
import type { BucketName, Buckets } from './buckets';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** JetStream's "wrong last sequence": the key moved on since the revision the write was based on. */
const WRONG_LAST_SEQUENCE = 10071;
const LIST_CONCURRENCY = 32;

export interface Versioned<T> {
  value: T;
  /** The KV revision (stream sequence) of this value; writes based on it fail if the key moved on. */
  revision: number;
}

function isLive(e: KvEntry | null): e is KvEntry {
  return e !== null && e.operation === 'PUT';
}

/**
 * One KV bucket of records that share a schema, with optimistic concurrency: new keys use create() and
 * changes name the revision they are based on, so concurrent writers get a conflict instead of a lost update.
 * Records are validated on write (the contract) and on read (a corrupt record never reads as valid).
 */
export class RevisionedStore<T> {
  private readonly log = createLogger('policy-store');

  constructor(
    private readonly buckets: Buckets,
    private readonly bucket: BucketName,
    private readonly schema: z.ZodType<T>,
    /** "enrollment", "terminal": used in error messages. */
    private readonly noun: string,
  ) {}

  private kv(): KV {
    return this.buckets.kv(this.bucket);
  }

  async get(key: string): Promise<Versioned<T> | undefined> {
    const entry = await this.call(() => this.kv().get(key));
    if (!isLive(entry)) return undefined;
    return { value: this.decode(entry), revision: entry.revision };
  }

  /** Fails with 409 when the key exists. */
  async create(key: string, value: T): Promise<number> {
    return this.call(() => this.kv().create(key, this.encode(value)), `${this.noun} ${key} already exists`);
  }

  /** Fails with 409 unless the key is still at `revision`. */
  async update(key: string, value: T, revision: number): Promise<number> {
    return this.call(
      () => this.kv().update(key, this.encode(value), revision),
      `${this.noun} ${key} was changed by someone else (revision ${revision} is stale); reload and retry`,
    );
  }

  /** Deletes (leaves a tombstone, kept in history); fails with 409 unless the key is still at `revision`. */
  async delete(key: string, revision: number): Promise<void> {
    await this.call(
      () => this.kv().delete(key, { previousSeq: revision }),
      `${this.noun} ${key} was changed by someone else (revision ${revision} is stale); reload and retry`,
    );
  }

  /**
   * Read-change-write at the revision read (or at `ifMatch`, the revision the client saw): a concurrent
   * change in between is a 409, never a lost update. `change` returning undefined means "nothing to do".
   */
  async modify(
    key: string,
    ifMatch: number | undefined,
    change: (current: T) => T | undefined,
  ): Promise<{ before: Versioned<T>; after: Versioned<T> | undefined }> {
    const before = await this.get(key);
    if (!before) throw notFound(this.noun, key);
    if (ifMatch !== undefined && ifMatch !== before.revision) {
      throw new ApiError(
        'conflict',
        `${this.noun} ${key} changed since revision ${ifMatch}; reload and retry`,
      );
    }
    const next = change(before.value);
    if (next === undefined) return { before, after: undefined };
    const revision = await this.update(key, next, ifMatch ?? before.revision);
    return { before, after: { value: next, revision } };
  }

  /** The current revision of a key, even if its record no longer validates (so it can still be deleted). */
  async revisionOf(key: string): Promise<number | undefined> {
    const entry = await this.call(() => this.kv().get(key));
    return isLive(entry) ? entry.revision : undefined;
  }

  /** Every live record, sorted by key. Records that fail validation are logged and left out. */
  async list(): Promise<Array<Versioned<T> & { key: string }>> {
    const keys: string[] = [];
    await this.call(async () => {
      for await (const k of await this.kv().keys()) keys.push(k);
    });
    keys.sort();
    const out: Array<Versioned<T> & { key: string }> = [];
    for (let i = 0; i < keys.length; i += LIST_CONCURRENCY) {
      const batch = keys.slice(i, i + LIST_CONCURRENCY);
      const entries = await Promise.all(batch.map((k) => this.call(() => this.kv().get(k))));
      entries.forEach((entry, j) => {
        if (!isLive(entry)) return; // deleted since keys() listed it
        const parsed = this.tryDecode(entry);
        if (parsed !== undefined) out.push({ key: batch[j], value: parsed, revision: entry.revision });
      });
    }
    return out;
  }

  private encode(value: T): Uint8Array {
    // Validating on write keeps a programming error from ever storing a record other services reject.
    return encoder.encode(JSON.stringify(this.schema.parse(value)));
  }

  private tryDecode(entry: KvEntry): T | undefined {
    let body: unknown;
    try {
      body = JSON.parse(decoder.decode(entry.value));
    } catch {
      body = undefined;
    }
    // Read with the tolerant copy: a newer policy replica may have written fields this one does not know.
    const parsed = receiving(this.schema).safeParse(body);
    if (parsed.success) return parsed.data;
    this.log.error(
      { bucket: this.bucket, key: entry.key, revision: entry.revision },
      'stored record fails its schema',
    );
    return undefined;
  }

  private decode(entry: KvEntry): T {
    const value = this.tryDecode(entry);
    if (value === undefined) {
      throw new ApiError(
        'internal_error',
        `stored ${this.noun} ${entry.key} is invalid; delete and recreate it`,
      );
    }
    return value;
  }

  /** Maps NATS failures: a revision conflict -> 409; anything else from NATS -> 503 (never a success). */
  private async call<R>(op: () => Promise<R>, conflictMessage?: string): Promise<R> {
    try {
      return await op();
    } catch (e) {
      if (e instanceof ApiError) throw e;
      const apiErr = (e as { api_error?: { err_code?: number } }).api_error;
      if (conflictMessage && apiErr?.err_code === WRONG_LAST_SEQUENCE) {
        throw new ApiError('conflict', conflictMessage);
      }
      if (isNatsError(e)) {
        this.log.warn({ bucket: this.bucket, err: e.message }, 'kv operation failed');
        throw new ApiError('unavailable', 'the enrollment store (NATS JetStream) did not answer; try again');
      }
      throw e;
    }
  }
}

function isNatsError(e: unknown): e is Error {
  return e instanceof Error && (e.name === 'NatsError' || typeof (e as { code?: unknown }).code === 'string');
}
