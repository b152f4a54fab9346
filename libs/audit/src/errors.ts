export type AuditErrorCode = 'invalid_record' | 'unavailable' | 'stream_misconfigured' | 'contention';

export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(
    readonly code: AuditErrorCode,
    message: string,
  ) {
    super(message);
  }
}
