import { integer, optionalPath } from '../fields';
import { defineSection } from '../section';
import { defined } from '../util';

export interface AuditSettings {
  /** Size cap in bytes; 0 = unlimited. When reached, appends fail: old records are never discarded. */
  maxBytes: number;
  /** How long one append may take (all retries included) before it fails. */
  appendTimeoutMs: number;
  /** Folder of the journal of records waiting for NATS (AuditTrail.enqueue); undefined = memory only. */
  spoolDir?: string;
  /** Most records waiting in the spool; beyond it new records are dropped (logged, counted). */
  spoolMaxRecords: number;
}

/** Default bound of the audit spool (records waiting for NATS); about 1 KiB each. @tapgate/audit uses it too. */
export const AUDIT_SPOOL_MAX_RECORDS = 10_000;

/** [audit]: the hash-chained audit trail of login and e-signature decisions (JetStream). */
export const auditSection = defineSection({
  name: 'audit',
  summary:
    'audit trail stream: size cap (never discards), append timeout, local spool ([nats] replicas sets its replicas)',
  fields: {
    max_bytes: integer({ default: 0, min: 0 }),
    append_timeout_ms: integer({ default: 5000, min: 100, max: 60_000 }),
    spool_dir: optionalPath(),
    spool_max_records: integer({ default: AUDIT_SPOOL_MAX_RECORDS, min: 1, max: 1_000_000 }),
  },
  build: (v): AuditSettings =>
    defined({
      maxBytes: v.max_bytes,
      appendTimeoutMs: v.append_timeout_ms,
      spoolDir: v.spool_dir,
      spoolMaxRecords: v.spool_max_records,
    }),
});
