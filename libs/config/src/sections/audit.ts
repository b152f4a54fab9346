import { integer } from '../fields';
import { defineSection } from '../section';

export interface AuditSettings {
  /** JetStream replicas of the audit stream (1, or 3 on a 3-node NATS cluster). */
  replicas: number;
  /** Size cap in bytes; 0 = unlimited. When reached, appends fail: old records are never discarded. */
  maxBytes: number;
  /** How long one append may take (all retries included) before it fails. */
  appendTimeoutMs: number;
}

/** [audit]: the hash-chained audit trail of login and e-signature decisions (JetStream). */
export const auditSection = defineSection({
  name: 'audit',
  summary: 'audit trail stream: replicas, size cap (never discards), append timeout',
  fields: {
    replicas: integer({ default: 1, min: 1, max: 5 }),
    max_bytes: integer({ default: 0, min: 0 }),
    append_timeout_ms: integer({ default: 5000, min: 100, max: 60_000 }),
  },
  build: (v): AuditSettings => ({
    replicas: v.replicas,
    maxBytes: v.max_bytes,
    appendTimeoutMs: v.append_timeout_ms,
  }),
});
