import type { AuditRecord } from '@tapgate/contracts';

export type ExportFormat = 'json' | 'csv';

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
  'sAMAccountName',
  'displayName',
  'ceremonyId',
  'esignReason',
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
    sAMAccountName: r.user?.sAMAccountName ?? r.decision?.user?.sAMAccountName,
    displayName: r.user?.displayName ?? r.decision?.user?.displayName,
    ceremonyId: r.ceremonyId,
    esignReason: r.esignReason,
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
