import type { AuditRecord } from '@tapgate/contracts';

export type ExportFormat = 'json' | 'csv';

/** The range an export covers when none is given: the whole trail (the earliest and latest Date). */
export const WHOLE_TRAIL = { from: new Date(0), to: new Date(8.64e15) } as const;

/** CSV columns, in order. `seq` is the stream sequence (what verify reports); the rest come from the record. */
export const CSV_COLUMNS = [
  'seq',
  'at',
  'kind',
  'outcome',
  'reason',
  'status',
  'terminalId',
  'tapId',
  'bandId',
  'sAMAccountName',
  'displayName',
  'ceremonyId',
  'esignReason',
  'esignComment',
  'signer',
  'assertionId',
  'audience',
  'gateway',
  'message',
  'identifiedBy',
  'prevHash',
  'hash',
] as const;

function cells(
  seq: number,
  r: AuditRecord,
): Record<(typeof CSV_COLUMNS)[number], string | number | undefined> {
  return {
    seq,
    at: r.at,
    kind: r.kind,
    outcome: r.outcome,
    reason: r.reason ?? r.decision?.reason,
    status: r.status ?? r.decision?.status,
    terminalId: r.terminalId,
    tapId: r.tapId,
    bandId: r.bandId,
    sAMAccountName: r.user?.sAMAccountName ?? r.decision?.user?.sAMAccountName,
    displayName: r.user?.displayName ?? r.decision?.user?.displayName,
    ceremonyId: r.ceremonyId,
    esignReason: r.esignReason,
    esignComment: r.esignComment,
    signer: r.signer,
    assertionId: r.assertionId,
    audience: r.audience,
    gateway: r.gateway,
    message: r.decision?.message,
    identifiedBy: r.decision?.identifiedBy,
    prevHash: r.prevHash,
    hash: r.hash,
  };
}

/**
 * One RFC 4180 field. Text that a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a
 * leading apostrophe: reasons and names come from outside (an NEA, the directory). JSON stays verbatim.
 */
export function csvField(value: string | number | undefined): string {
  if (value === undefined) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const csvHeader = (): string => `${CSV_COLUMNS.join(',')}\r\n`;

export function csvRow(seq: number, record: AuditRecord): string {
  const c = cells(seq, record);
  return `${CSV_COLUMNS.map((k) => csvField(c[k])).join(',')}\r\n`;
}

/** JSON export entry: the stored record exactly as hashed, plus its stream sequence. */
export const jsonEntry = (seq: number, record: AuditRecord): string => JSON.stringify({ seq, record });

/** Formats entries as a whole document: a JSON array, or CSV with a header row. */
export function formatExport(
  entries: ReadonlyArray<{ seq: number; record: AuditRecord }>,
  format: ExportFormat,
): string {
  if (format === 'csv') return csvHeader() + entries.map((e) => csvRow(e.seq, e.record)).join('');
  return `[${entries.map((e) => `\n${jsonEntry(e.seq, e.record)}`).join(',')}${entries.length ? '\n' : ''}]\n`;
}

/** Sequences listed one by one in a tally (the count is always complete). */
export const MAX_LISTED = 1_000;

/** What an export scanned, so that its count can be checked against the stream's. */
export interface ExportTally {
  /** The stream when the scan began: messages held, first and last sequence. */
  streamMessages: number;
  streamFirstSeq: number;
  streamLastSeq: number;
  /** Sequences the scan covered (undefined when it read nothing). */
  firstSeq: number | undefined;
  lastSeq: number | undefined;
  /** Messages read in that window. read = exported + outsideRange + unreadable.length. */
  read: number;
  exported: number;
  /** Valid records whose `at` is outside the requested range. */
  outsideRange: number;
  /** Sequences that are not valid records. */
  unreadable: number[];
  /** Sequences between the first and the last that the stream did not return (first MAX_LISTED). */
  missing: number[];
  missingCount: number;
}

export const newTally = (): ExportTally => ({
  streamMessages: 0,
  streamFirstSeq: 0,
  streamLastSeq: 0,
  firstSeq: undefined,
  lastSeq: undefined,
  read: 0,
  exported: 0,
  outsideRange: 0,
  unreadable: [],
  missing: [],
  missingCount: 0,
});

/** Nothing unreadable and nothing missing: the export holds every record of the range. */
export const tallyComplete = (t: ExportTally): boolean => t.unreadable.length === 0 && t.missingCount === 0;

/** One line for an operator: exported versus stored, and what is wrong if anything. */
export function describeTally(t: ExportTally): string {
  const window = t.firstSeq === undefined ? 'no sequences' : `sequences ${t.firstSeq}-${t.lastSeq}`;
  const parts = [
    `exported ${t.exported} records`,
    `stream holds ${t.streamMessages} records (sequences ${t.streamFirstSeq}-${t.streamLastSeq})`,
    `scanned ${t.read} in ${window}, ${t.outsideRange} outside the time range`,
  ];
  if (t.unreadable.length > 0) {
    parts.push(`${t.unreadable.length} unreadable (sequences ${t.unreadable.slice(0, 20).join(', ')})`);
  }
  if (t.missingCount > 0) {
    parts.push(`${t.missingCount} missing (sequences ${t.missing.slice(0, 20).join(', ')})`);
  }
  return parts.join('; ');
}
