export {
  AuditTrail,
  type AuditTrailOptions,
  type Appended,
  type VerifyReport,
  type SeqRange,
  type TimeRange,
  type ExportResult,
  type ExportedEntry,
} from './trail';
export {
  AuditInput,
  GENESIS_HASH,
  canonicalJson,
  recordHash,
  chainRecord,
  checkLink,
  type ChainBreak,
} from './chain';
export { AuditError, type AuditErrorCode } from './errors';
export { DEFAULT_SPOOL_MAX_RECORDS } from './spool';
export { readStream, type StoredEntry } from './reader';
export {
  CSV_COLUMNS,
  csvField,
  csvHeader,
  csvRow,
  formatExport,
  jsonEntry,
  newTally,
  describeTally,
  tallyComplete,
  WHOLE_TRAIL,
  MAX_LISTED,
  type ExportFormat,
  type ExportTally,
} from './export';
export {
  ExportQuery as AuditExportQuery,
  VerifyQuery as AuditVerifyQuery,
  createAuditApi,
  createAuditQueries,
  type AuditApi,
  type AuditApiResponse,
  type AuditQueries,
  type Query,
  type ScanHealth,
} from './api';
export {
  DecisionQuery,
  SummaryQuery,
  matchesDecisionQuery,
  MAX_PAGE,
  MAX_OFFSET,
  MAX_SUMMARY_MINUTES,
  type DecisionPage,
  type DecisionSummary,
  type MinuteCount,
} from './query';
export { sampleDecision, appendSampleRecords } from './samples';
