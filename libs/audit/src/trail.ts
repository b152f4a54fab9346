import { randomUUID } from 'node:crypto';
import { AUDIT_STREAM, AUDIT_SUBJECT, AuditRecord, receiving } from '@tapgate/contracts';
import type { Messaging } from '@tapgate/messaging';
import { createLogger, getMeter } from '@tapgate/telemetry';
import {
  DiscardPolicy,
  NatsError,
  RetentionPolicy,
  StorageType,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type StreamConfig,
} from 'nats';
import { AuditInput, GENESIS_HASH, chainRecord, checkLink, type ChainBreak } from './chain';
import { AuditError } from './errors';
import { MAX_LISTED, formatExport, newTally, type ExportFormat, type ExportTally } from './export';
import { readStream } from './reader';
import { AuditSpool, DEFAULT_SPOOL_MAX_RECORDS, type SpoolEntry } from './spool';

const log = createLogger('audit');
const decoder = new TextDecoder();
const encoder = new TextEncoder();
const HEX64 = /^[0-9a-f]{64}$/;
// JetStream API error codes (nats-server errors.json).
const WRONG_LAST_SEQUENCE = 10071;
const NO_MESSAGE_FOUND = 10037;
const STREAM_NOT_FOUND = 10059;

export interface AuditTrailOptions {
  /** Size cap; 0 (default) = unlimited. At the cap appends fail: records are never discarded. */
  maxBytes?: number;
  /** Longest one append may take, retries included. Default 5 s. */
  appendTimeoutMs?: number;
  /** Timeout of each JetStream API request, and of waiting for the NATS connection. Default 5 s. */
  requestTimeoutMs?: number;
  /**
   * Folder of the enqueue() journal, so that records waiting for NATS survive a restart. Undefined =
   * in memory only. One process per folder (a lock file says which).
   */
  spoolDir?: string;
  /** Most records enqueue() holds waiting; beyond it new records are dropped, logged and counted. */
  spoolMaxRecords?: number;
  /** Longest pause between two attempts to append a waiting record (backoff doubles up to it). Default 5 s. */
  spoolRetryMaxMs?: number;
}

export interface Appended {
  seq: number;
  record: AuditRecord;
}

export type VerifyReport =
  | { ok: true; checked: number; firstSeq: number; lastSeq: number; lastHash: string }
  | { ok: false; checked: number; brokenAt: number; why: ChainBreak; detail: string };

export interface SeqRange {
  fromSeq?: number;
  toSeq?: number;
}

export interface TimeRange {
  /** Records with from <= at < to (by the record's `at`). */
  from: Date;
  to: Date;
  /** How far a record's `at` may be from when the stream stored it (clock skew, retries). Default 10 min. */
  marginMs?: number;
}

export interface ExportResult {
  contentType: string;
  body: string;
  count: number;
  /** Sequences in the scanned window that are not valid records (see verifyChain). */
  unreadable: number[];
  tally: ExportTally;
}

export type ExportedEntry = { seq: number; record: AuditRecord } | { seq: number; unreadable: string };

function apiErrorCode(e: unknown): number | undefined {
  return e instanceof NatsError ? e.api_error?.err_code : undefined;
}

function parseHash(data: Uint8Array): string | undefined {
  try {
    const hash = (JSON.parse(decoder.decode(data)) as { hash?: unknown }).hash;
    return typeof hash === 'string' && HEX64.test(hash) ? hash : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function trailMetrics() {
  const meter = getMeter();
  return {
    waiting: meter.createObservableGauge('tapgate.audit.spool.waiting', {
      description: 'Audit records enqueued and not yet stored in JetStream',
    }),
    dropped: meter.createCounter('tapgate.audit.spool.dropped', {
      description: 'Audit records dropped because the spool was full',
    }),
    invalid: meter.createCounter('tapgate.audit.enqueue.invalid', {
      description: 'Invalid audit records refused by enqueue (a bug in the writer)',
    }),
  };
}

/**
 * The hash-chained audit trail of login and e-signature decisions in the JetStream stream AUDIT_STREAM.
 *
 * Every record carries the hash of the one before it. Appends are conditional on the stream's last
 * sequence, so writers on several gateway replicas cannot fork the chain: the loser of a race re-reads
 * the head and links to it instead.
 */
export class AuditTrail {
  private head: { seq: number; hash: string } | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private readonly appendTimeoutMs: number;
  private readonly spool: AuditSpool;
  private draining: Promise<void> | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private dropped = 0;
  private lastDropLog = 0;
  private readonly metrics = trailMetrics();
  private readonly observeWaiting = (r: { observe(v: number): void }) => r.observe(this.spool.size);

  /** Throws (at start-up) when the spool folder cannot be used or another process owns it. */
  constructor(
    private readonly messaging: Messaging,
    private readonly opts: AuditTrailOptions = {},
  ) {
    this.appendTimeoutMs = opts.appendTimeoutMs ?? 5_000;
    this.spool = new AuditSpool({
      dir: opts.spoolDir,
      maxRecords: opts.spoolMaxRecords ?? DEFAULT_SPOOL_MAX_RECORDS,
    });
    this.metrics.waiting.addCallback(this.observeWaiting);
    // Records left by an earlier run go out first.
    if (this.spool.size > 0) this.pump();
  }

  private async connection(): Promise<NatsConnection> {
    const timeoutMs = this.opts.requestTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new AuditError('unavailable', `not connected to NATS within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.messaging.connection(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async js(): Promise<JetStreamClient> {
    return (await this.connection()).jetstream({ timeout: this.opts.requestTimeoutMs ?? 5_000 });
  }

  private async jsm(): Promise<JetStreamManager> {
    // checkAPI off: the default costs an extra account-info round trip on every call.
    const nc = await this.connection();
    return nc.jetstreamManager({ timeout: this.opts.requestTimeoutMs ?? 5_000, checkAPI: false });
  }

  /** The stream configuration this trail requires. */
  streamConfig(): Partial<StreamConfig> & { name: string } {
    return {
      name: AUDIT_STREAM,
      description: 'Tapgate audit trail: hash-chained login and e-signature decisions (append-only)',
      subjects: [AUDIT_SUBJECT],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      // A compliance trail is never trimmed: at a limit, new appends fail rather than old records vanish.
      discard: DiscardPolicy.New,
      max_msgs: -1,
      max_msgs_per_subject: -1,
      max_bytes: this.opts.maxBytes ? this.opts.maxBytes : -1,
      max_age: 0,
      num_replicas: this.messaging.jetstreamReplicas,
      deny_delete: true,
      deny_purge: true,
      allow_rollup_hdrs: false,
      duplicate_window: nanos(120_000),
    };
  }

  /**
   * Creates the stream when missing. An existing stream that could lose records (deletes or purges
   * allowed, limits that discard, other subjects) is refused rather than used.
   */
  async ensureStream(): Promise<void> {
    const jsm = await this.jsm();
    const wanted = this.streamConfig();
    let existing: StreamConfig;
    try {
      existing = (await jsm.streams.info(AUDIT_STREAM)).config;
    } catch (e) {
      if (apiErrorCode(e) !== STREAM_NOT_FOUND) throw e;
      await jsm.streams.add(wanted);
      log.info({ stream: AUDIT_STREAM, replicas: wanted.num_replicas }, 'audit stream created');
      return;
    }
    const problems: string[] = [];
    if (!existing.deny_delete) problems.push('deny_delete is off');
    if (!existing.deny_purge) problems.push('deny_purge is off');
    if (existing.allow_rollup_hdrs) problems.push('rollups are allowed');
    if (existing.storage !== StorageType.File) problems.push('storage is not file');
    // Age and per-subject limits remove old records whatever the discard policy; the others do under "old".
    if (existing.max_age > 0) problems.push('max_age removes old records');
    if ((existing.max_msgs_per_subject ?? -1) > 0) problems.push('max_msgs_per_subject removes old records');
    if ((existing.max_msgs > 0 || existing.max_bytes > 0) && existing.discard !== DiscardPolicy.New) {
      problems.push('limits discard old records');
    }
    if (existing.subjects.length !== 1 || existing.subjects[0] !== AUDIT_SUBJECT) {
      problems.push(`subjects are ${JSON.stringify(existing.subjects)}`);
    }
    if (problems.length > 0) {
      throw new AuditError(
        'stream_misconfigured',
        `stream ${AUDIT_STREAM} exists but ${problems.join(', ')}; refusing to use it as an audit trail`,
      );
    }
  }

  /**
   * Appends one decision, linked to the current head. Resolves once JetStream has stored it; rejects
   * with AuditError (invalid_record, unavailable, contention) otherwise, and never stores a record twice.
   */
  append(input: AuditInput): Promise<Appended> {
    const parsed = AuditInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return Promise.reject(
        new AuditError('invalid_record', `invalid audit record: ${issue?.path.join('.')}: ${issue?.message}`),
      );
    }
    const landed = new Set<number>();
    return this.serial(() => this.appendNow(parsed.data, randomUUID(), landed));
  }

  /**
   * Queues one decision for appending and returns at once; never throws. The record waits in the spool
   * (memory, and the journal in `spoolDir` when configured, fsync'd) and is appended in enqueue order,
   * retried with backoff while NATS or the stream is unavailable. Every attempt carries the same
   * JetStream message id, and an attempt whose outcome was unknown is looked up before the next, so a
   * record is stored once. A full spool drops the new record (error log, `tapgate.audit.spool.dropped`).
   */
  enqueue(input: AuditInput): void {
    const parsed = AuditInput.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      this.metrics.invalid.add(1);
      log.error(
        { tapId: input?.tapId, problem: `${issue?.path.join('.')}: ${issue?.message}` },
        'invalid audit record not enqueued (a bug in its writer)',
      );
      return;
    }
    if (this.closed || !this.spool.add(randomUUID(), parsed.data)) {
      this.dropped += 1;
      this.metrics.dropped.add(1);
      // One line per 10 s at most: a full spool under load would otherwise flood the log.
      if (Date.now() - this.lastDropLog > 10_000) {
        this.lastDropLog = Date.now();
        log.error(
          {
            dropped: this.dropped,
            waiting: this.spool.size,
            limit: this.spool.maxRecords,
            closed: this.closed,
          },
          'audit spool full (or trail closed): record dropped; NATS has been unreachable for too long',
        );
      }
      return;
    }
    this.pump();
  }

  /** Records enqueued and not yet confirmed stored (for /readyz and metrics). */
  waiting(): number {
    return this.spool.size;
  }

  /** Records enqueue() dropped since start because the spool was full. */
  droppedCount(): number {
    return this.dropped;
  }

  /** Resolves once every record enqueued so far is in the journal on disk (at once without spoolDir). */
  persisted(): Promise<void> {
    return this.spool.persisted();
  }

  /** Resolves true once nothing is waiting, false when `timeoutMs` passes first. */
  async drained(timeoutMs = 30_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.spool.size > 0) {
      if (Date.now() >= deadline) return false;
      await sleep(Math.min(50, deadline - Date.now()));
    }
    return true;
  }

  /**
   * Stops appending waiting records (they stay in the journal for the next start) and releases the
   * spool. Call on shutdown after a last `drained()` if there is time.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    await this.draining;
    this.metrics.waiting.removeCallback(this.observeWaiting);
    await this.spool.close();
  }

  private serial<T>(run: () => Promise<T>): Promise<T> {
    // One append at a time per instance: racing itself would only cost retries, and it keeps order.
    const result = this.tail.then(run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private pump(): void {
    if (this.draining || this.closed) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // Something enqueued while the loop was finishing.
      if (this.spool.size > 0 && !this.closed) this.pump();
    });
  }

  private async drain(): Promise<void> {
    let failures = 0;
    for (let entry = this.spool.peek(); entry && !this.closed; entry = this.spool.peek()) {
      const current: SpoolEntry = entry;
      try {
        const stored = await this.serial(() =>
          this.appendNow(current.input, current.id, current.landed, (seq) =>
            this.spool.attempt(current, seq),
          ),
        );
        await this.spool.done(current, stored.seq);
        if (failures > 0) log.info({ waiting: this.spool.size }, 'audit appends resumed');
        failures = 0;
      } catch (e) {
        failures += 1;
        if (failures === 1) {
          log.warn(
            { err: (e as Error).message, waiting: this.spool.size },
            'audit append failed; records wait in the spool and are retried',
          );
        }
        const cap = this.opts.spoolRetryMaxMs ?? 5_000;
        const backoff = Math.min(cap, 100 * 2 ** Math.min(failures, 16));
        await this.pause(backoff / 2 + (Math.random() * backoff) / 2);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * One record, linked to the head, with message id `msgID` on every attempt (JetStream drops a second
   * copy within its duplicate window). `landed` holds the sequences where an earlier attempt with an
   * unknown outcome may have stored it; they are looked up first, which also covers a retry after the
   * duplicate window (a spool that waited out a long outage or a restart).
   */
  private async appendNow(
    input: AuditInput,
    msgID: string,
    landed: Set<number>,
    beforePublish?: (seq: number) => Promise<void>,
  ): Promise<Appended> {
    const deadline = Date.now() + this.appendTimeoutMs;
    let lastError: unknown;
    for (let attempt = 0; Date.now() < deadline; attempt++) {
      let fresh: number | undefined;
      try {
        const head = this.head ?? (await this.readHead());
        const found = await this.findLanded(msgID, landed, head.seq);
        if (found) {
          this.head = undefined;
          return found;
        }
        const record = chainRecord(input, head.hash);
        const js = await this.js();
        const seq = head.seq + 1;
        if (!landed.has(seq)) {
          fresh = seq;
          landed.add(seq);
          await beforePublish?.(seq);
        }
        const ack = await js.publish(AUDIT_SUBJECT, encoder.encode(JSON.stringify(record)), {
          msgID,
          // Both, on the stream's one subject: nats-server ignores an expected last sequence of 0, so
          // on an empty stream only the per-subject expectation (0 = no record yet) stops a second
          // replica from also appending a first record linked to GENESIS.
          expect: { lastSequence: head.seq, lastSubjectSequence: head.seq },
          timeout: Math.max(100, deadline - Date.now()),
        });
        if (ack.duplicate) {
          this.head = undefined;
          return { seq: ack.seq, record: await this.readRecord(ack.seq) };
        }
        this.head = { seq: ack.seq, hash: record.hash };
        return { seq: ack.seq, record };
      } catch (e) {
        this.head = undefined;
        lastError = e;
        if (e instanceof AuditError) throw e;
        // JetStream answered with an error: this attempt stored nothing.
        if (fresh !== undefined && apiErrorCode(e) !== undefined) landed.delete(fresh);
        const contended = apiErrorCode(e) === WRONG_LAST_SEQUENCE;
        // Full jitter, so competing replicas do not collide again in lockstep.
        await sleep(Math.random() * Math.min(contended ? 20 : 250, 2 ** attempt));
      }
    }
    const why = lastError instanceof Error ? lastError.message : String(lastError);
    throw new AuditError(
      apiErrorCode(lastError) === WRONG_LAST_SEQUENCE ? 'contention' : 'unavailable',
      `audit append failed within ${this.appendTimeoutMs} ms: ${why}`,
    );
  }

  /**
   * The last record's sequence and hash (GENESIS for an empty stream). A head that cannot be read (its
   * bytes damaged on disk) is linked over with GENESIS_HASH: decisions keep being recorded, and
   * verifyChain reports the damage at that sequence. Refusing to append would stop every login instead.
   */
  private async readHead(): Promise<{ seq: number; hash: string }> {
    const jsm = await this.jsm();
    try {
      const stored = await jsm.streams.getMessage(AUDIT_STREAM, { last_by_subj: AUDIT_SUBJECT });
      const hash = parseHash(stored.data);
      if (hash !== undefined) return { seq: stored.seq, hash };
      log.error({ seq: stored.seq }, 'last audit record has no valid hash; run the audit verifier');
      return { seq: stored.seq, hash: GENESIS_HASH };
    } catch (e) {
      if (apiErrorCode(e) !== NO_MESSAGE_FOUND) throw e;
    }
    const { lastSeq } = await this.streamState();
    if (lastSeq === 0) return { seq: 0, hash: GENESIS_HASH };
    // Another replica may have appended between the two reads above (the stream was empty for the
    // first): read the head again by its sequence, so a pair (sequence, hash) always belongs together.
    try {
      const stored = await jsm.streams.getMessage(AUDIT_STREAM, { seq: lastSeq });
      const hash = parseHash(stored.data);
      if (hash !== undefined) return { seq: lastSeq, hash };
    } catch (e) {
      if (apiErrorCode(e) !== NO_MESSAGE_FOUND) throw e;
    }
    log.error({ seq: lastSeq }, 'last audit record cannot be read; run the audit verifier');
    return { seq: lastSeq, hash: GENESIS_HASH };
  }

  private async readRecord(seq: number): Promise<AuditRecord> {
    const stored = await (await this.jsm()).streams.getMessage(AUDIT_STREAM, { seq });
    return JSON.parse(decoder.decode(stored.data)) as AuditRecord;
  }

  /** The record stored by an earlier attempt with `msgID`, if one of the `landed` sequences holds it. */
  private async findLanded(
    msgID: string,
    landed: Set<number>,
    headSeq: number,
  ): Promise<Appended | undefined> {
    for (const seq of [...landed].sort((a, b) => a - b)) {
      if (seq > headSeq) continue; // nothing stored there yet
      let stored;
      try {
        stored = await (await this.jsm()).streams.getMessage(AUDIT_STREAM, { seq });
      } catch (e) {
        if (apiErrorCode(e) !== NO_MESSAGE_FOUND) throw e;
        landed.delete(seq);
        continue;
      }
      if (stored.header?.get('Nats-Msg-Id') === msgID) {
        return { seq, record: JSON.parse(decoder.decode(stored.data)) as AuditRecord };
      }
      landed.delete(seq); // another record holds it
    }
    return undefined;
  }

  /** The hash a stored record carries, or why it has none (NATS errors propagate). */
  private async storedHash(seq: number): Promise<string | { why: ChainBreak; detail: string }> {
    let data: Uint8Array;
    try {
      data = (await (await this.jsm()).streams.getMessage(AUDIT_STREAM, { seq })).data;
    } catch (e) {
      if (apiErrorCode(e) === NO_MESSAGE_FOUND) return { why: 'missing_record', detail: 'missing' };
      throw e;
    }
    return parseHash(data) ?? { why: 'invalid_record', detail: 'no valid hash' };
  }

  private async streamState(): Promise<{ firstSeq: number; lastSeq: number; messages: number }> {
    const info = await (await this.jsm()).streams.info(AUDIT_STREAM);
    return { firstSeq: info.state.first_seq, lastSeq: info.state.last_seq, messages: info.state.messages };
  }

  /**
   * Re-reads the stream (or a range of sequences) in order and recomputes every hash. Reports the
   * first sequence where the chain breaks: a record whose hash does not match its content, one that
   * does not link to its predecessor, one that is not a valid record, or a missing sequence.
   */
  async verifyChain(range: SeqRange = {}): Promise<VerifyReport> {
    const { lastSeq: streamLast } = await this.streamState();
    const from = Math.max(1, range.fromSeq ?? 1);
    const to = Math.min(range.toSeq ?? streamLast, streamLast);
    if (to < from) return { ok: true, checked: 0, firstSeq: from, lastSeq: to, lastHash: GENESIS_HASH };

    let prevHash = GENESIS_HASH;
    if (from > 1) {
      // A range starts from the hash its predecessor recorded; that record itself is not re-checked.
      const anchor = await this.storedHash(from - 1);
      if (typeof anchor !== 'string') {
        return {
          ok: false,
          checked: 0,
          brokenAt: from - 1,
          why: anchor.why,
          detail: `the record before the range: ${anchor.detail}`,
        };
      }
      prevHash = anchor;
    }

    let expected = from;
    let checked = 0;
    for await (const entry of readStream(await this.js(), { seq: from }, to)) {
      if (entry.seq !== expected) {
        return {
          ok: false,
          checked,
          brokenAt: expected,
          why: 'missing_record',
          detail: `sequence ${expected} is missing (next is ${entry.seq})`,
        };
      }
      let raw: unknown;
      try {
        raw = JSON.parse(decoder.decode(entry.data));
      } catch {
        return { ok: false, checked, brokenAt: entry.seq, why: 'invalid_record', detail: 'not JSON' };
      }
      const link = checkLink(raw, prevHash);
      if (!link.ok) return { ok: false, checked, brokenAt: entry.seq, why: link.why, detail: link.detail };
      prevHash = link.record.hash;
      checked += 1;
      expected += 1;
    }
    if (expected <= to) {
      return {
        ok: false,
        checked,
        brokenAt: expected,
        why: 'missing_record',
        detail: `sequence ${expected} is missing`,
      };
    }
    return { ok: true, checked, firstSeq: from, lastSeq: to, lastHash: prevHash };
  }

  /**
   * The records whose `at` lies in [from, to), in stream order. Records that cannot be read are yielded
   * as `unreadable` rather than skipped silently (verifyChain says why); sequences the stream no longer
   * returns are counted in `tally.missing`. The scan runs to the end of the stream: a record spooled
   * while NATS was down is stored long after its `at`.
   */
  async *records(range: TimeRange, tally: ExportTally = newTally()): AsyncGenerator<ExportedEntry> {
    const margin = range.marginMs ?? 600_000;
    const state = await this.streamState();
    Object.assign(tally, {
      streamMessages: state.messages,
      streamFirstSeq: state.firstSeq,
      streamLastSeq: state.lastSeq,
    });
    const startTime = range.from.getTime() - margin;
    // From the beginning by sequence, so that a gap before the first record returned is seen too.
    const start = startTime <= 0 ? { seq: 1 } : { time: new Date(startTime) };
    let expected = 'seq' in start ? Math.max(1, state.firstSeq) : undefined;
    const missing = (from: number, to: number) => {
      for (let s = from; s <= to && tally.missing.length < MAX_LISTED; s++) tally.missing.push(s);
      tally.missingCount += to - from + 1;
    };
    for await (const entry of readStream(await this.js(), start, state.lastSeq)) {
      if (expected !== undefined && entry.seq > expected) missing(expected, entry.seq - 1);
      expected = entry.seq + 1;
      tally.firstSeq ??= entry.seq;
      tally.lastSeq = entry.seq;
      tally.read += 1;
      let raw: unknown;
      try {
        raw = JSON.parse(decoder.decode(entry.data));
      } catch {
        tally.unreadable.push(entry.seq);
        yield { seq: entry.seq, unreadable: 'not JSON' };
        continue;
      }
      const parsed = receiving(AuditRecord).safeParse(raw);
      if (!parsed.success) {
        tally.unreadable.push(entry.seq);
        yield { seq: entry.seq, unreadable: 'not a valid audit record' };
        continue;
      }
      const at = Date.parse(parsed.data.at);
      if (at >= range.from.getTime() && at < range.to.getTime()) {
        tally.exported += 1;
        yield { seq: entry.seq, record: parsed.data };
      } else {
        tally.outsideRange += 1;
      }
    }
    if (expected !== undefined && expected <= state.lastSeq) missing(expected, state.lastSeq);
    if (tally.firstSeq === undefined && state.lastSeq > 0 && 'seq' in start) {
      missing(Math.max(1, state.firstSeq), state.lastSeq);
    }
  }

  /** A time range as one document (JSON array or CSV), with the sequences that could not be read. */
  async exportRange(range: TimeRange & { format: ExportFormat }): Promise<ExportResult> {
    const entries: Array<{ seq: number; record: AuditRecord }> = [];
    const tally = newTally();
    for await (const e of this.records(range, tally)) {
      if ('record' in e) entries.push(e);
    }
    return {
      contentType: range.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/json',
      body: formatExport(entries, range.format),
      count: entries.length,
      unreadable: tally.unreadable,
      tally,
    };
  }
}
