import { AUDIT_STREAM } from '@tapgate/contracts';
import { DeliverPolicy, type JetStreamClient } from 'nats';

export interface StoredEntry {
  seq: number;
  /** When the stream stored it (JetStream's clock). */
  storedAt: Date;
  data: Uint8Array;
}

const BATCH = 256;

/**
 * Reads the audit stream in sequence order with an ordered consumer (nothing to ack, nothing left
 * behind on the server), from `start` up to and including `lastSeq`. Missing sequences are simply
 * not yielded: callers that care (the verifier, the export) compare sequence numbers.
 *
 * Each fetched batch is taken in full before any of it is yielded. nats.js ends an ordered consumer's
 * fetch iterator as soon as the server completes the pull and drops what its reader had not taken
 * yet, so a caller that waited between records (a file being written) lost the rest of every batch.
 */
export async function* readStream(
  js: JetStreamClient,
  start: { seq: number } | { time: Date },
  lastSeq: number,
  /** The decision trail by default; the policy service reads its administrator-change stream too. */
  stream: string = AUDIT_STREAM,
): AsyncGenerator<StoredEntry> {
  if (lastSeq < 1 || ('seq' in start && start.seq > lastSeq)) return;
  const consumer = await js.consumers.get(
    stream,
    'seq' in start
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start.seq) }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time.toISOString() },
  );
  try {
    // Nothing at or after the start (a range in the future): no pull that would wait for its expiry.
    if ((await consumer.info()).num_pending === 0) return;
    for (;;) {
      const batch = await consumer.fetch({ max_messages: BATCH, expires: 2_000 });
      const taken: StoredEntry[] = [];
      let finished = false;
      // No await in this loop but the iterator's own: nothing may slow the draining of the batch.
      for await (const m of batch) {
        if (m.seq > lastSeq) {
          finished = true;
          break;
        }
        taken.push({ seq: m.seq, storedAt: new Date(Math.floor(m.info.timestampNanos / 1e6)), data: m.data });
        if (m.seq === lastSeq || m.info.pending === 0) {
          // Everything asked for is taken; leaving now spares waiting for the pull to expire.
          finished = true;
          break;
        }
      }
      yield* taken;
      if (finished || taken.length === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
