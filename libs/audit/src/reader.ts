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
 * not yielded: callers that care (the verifier) compare sequence numbers.
 */
export async function* readStream(
  js: JetStreamClient,
  start: { seq: number } | { time: Date },
  lastSeq: number,
): AsyncGenerator<StoredEntry> {
  if (lastSeq < 1 || ('seq' in start && start.seq > lastSeq)) return;
  const consumer = await js.consumers.get(
    AUDIT_STREAM,
    'seq' in start
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, start.seq) }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time.toISOString() },
  );
  try {
    for (;;) {
      const batch = await consumer.fetch({ max_messages: BATCH, expires: 2_000 });
      let received = 0;
      for await (const m of batch) {
        received += 1;
        if (m.seq > lastSeq) return;
        yield { seq: m.seq, storedAt: new Date(Math.floor(m.info.timestampNanos / 1e6)), data: m.data };
        if (m.seq === lastSeq || m.info.pending === 0) return;
      }
      if (received === 0) return;
    }
  } finally {
    await consumer.delete().catch(() => undefined);
  }
}
