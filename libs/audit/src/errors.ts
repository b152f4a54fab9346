export type AuditErrorCode =
  | 'invalid_record'
  | 'unavailable'
  | 'stream_misconfigured'
  | 'contention'
  /** Another running process owns the spool folder's journal. */
  | 'spool_locked';

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(
    readonly code: AuditErrorCode,
    message: string,
  ) {
    super(message);
  }
}
