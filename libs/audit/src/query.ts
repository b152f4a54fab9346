import { AuditRecord } from '@tapgate/contracts';
import { z } from 'zod';

const Iso = z.iso.datetime({ offset: true }).transform((s) => new Date(s));

/** Most records one page holds, and the furthest a page may start from the newest. */
export const MAX_PAGE = 500;
export const MAX_OFFSET = 100_000;

/** A time range is required: a page is cut from a scan of that range, newest first. */
export const DecisionQuery = z
  .object({
    from: Iso,
    to: Iso,
    kind: AuditRecord.shape.kind.optional(),
    outcome: AuditRecord.shape.outcome.optional(),
    terminal: z.string().min(1).max(128).optional(),
    /** Matches the user's sAMAccountName or display name, or the band id (case-insensitive substring). */
    user: z.string().min(1).max(256).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
    /** How many matching records (newest first) come before the page. */
    offset: z.coerce.number().int().min(0).max(MAX_OFFSET).default(0),
  })
  .strict()
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['to'] });
export type DecisionQuery = z.infer<typeof DecisionQuery>;

/** The user the record names, from the record or its decision. */
const userOf = (r: AuditRecord) => r.user ?? r.decision?.user;

/** True when `r` passes the query's filters (the time range is the scan's business). */
export function matchesDecisionQuery(r: AuditRecord, q: DecisionQuery): boolean {
  if (q.kind && r.kind !== q.kind) return false;
  if (q.outcome && r.outcome !== q.outcome) return false;
  if (q.terminal && r.terminalId.toLowerCase() !== q.terminal.toLowerCase()) return false;
  if (q.user) {
    const needle = q.user.toLowerCase();
    const u = userOf(r);
    const hay = [u?.sAMAccountName, u?.displayName, r.bandId].filter((x): x is string => x !== undefined);
    if (!hay.some((h) => h.toLowerCase().includes(needle))) return false;
  }
  return true;
}

export interface DecisionPage {
  /** Newest first. */
  items: Array<{ seq: number; record: AuditRecord }>;
  /** Records in the range that match the filters. */
  total: number;
  offset: number;
  limit: number;
}

/**
 * Collects one page, newest first, from entries read oldest first: only the last `offset + limit`
 * matches are kept (a ring), so memory stays bounded by the page, not by the range.
 */
export class PageCollector {
  private readonly ring: Array<{ seq: number; record: AuditRecord }> = [];
  private total = 0;
  private readonly keep: number;

  constructor(private readonly q: DecisionQuery) {
    this.keep = q.offset + q.limit;
  }

  add(entry: { seq: number; record: AuditRecord }): void {
    if (!matchesDecisionQuery(entry.record, this.q)) return;
    this.ring[this.total % this.keep] = entry;
    this.total += 1;
  }

  page(): DecisionPage {
    const held = Math.min(this.total, this.keep);
    const newestFirst = Array.from({ length: held }, (_, i) => this.ring[(this.total - 1 - i) % this.keep]);
    return {
      items: newestFirst.slice(this.q.offset, this.q.offset + this.q.limit),
      total: this.total,
      offset: this.q.offset,
      limit: this.q.limit,
    };
  }
}

/** Taps in one minute of a summary. */
export interface MinuteCount {
  /** Start of the minute (ISO). */
  minute: string;
  taps: number;
  refused: number;
}

export interface DecisionSummary {
  from: string;
  to: string;
  /** Tap records (kind `tap`) in the range: one per tap an endpoint was answered for. */
  taps: number;
  /** Per minute, oldest first, every minute of the range (zeros included). */
  perMinute: MinuteCount[];
  /** Refused taps by reason, most frequent first. */
  refusals: Array<{ reason: string; count: number }>;
  /** Login and e-signature records in the range, by outcome. */
  logins: Record<string, number>;
  esigns: Record<string, number>;
}

/** The longest range a summary covers (per-minute rows stay a few thousand). */
export const MAX_SUMMARY_MINUTES = 24 * 60;

export const SummaryQuery = z
  .object({ minutes: z.coerce.number().int().min(1).max(MAX_SUMMARY_MINUTES).default(60) })
  .strict();

/** Counts taps per minute and refusals by reason over [from, to), minute-aligned. */
export class SummaryCollector {
  private readonly first: number;
  private readonly perMinute: MinuteCount[];
  private readonly refusals = new Map<string, number>();
  private readonly logins: Record<string, number> = {};
  private readonly esigns: Record<string, number> = {};
  private taps = 0;

  constructor(
    readonly from: Date,
    readonly to: Date,
  ) {
    this.first = Math.floor(from.getTime() / 60_000);
    const last = Math.ceil(to.getTime() / 60_000);
    this.perMinute = Array.from({ length: Math.max(0, last - this.first) }, (_, i) => ({
      minute: new Date((this.first + i) * 60_000).toISOString(),
      taps: 0,
      refused: 0,
    }));
  }

  add(r: AuditRecord): void {
    if (r.kind === 'login') this.logins[r.outcome] = (this.logins[r.outcome] ?? 0) + 1;
    if (r.kind === 'esign') this.esigns[r.outcome] = (this.esigns[r.outcome] ?? 0) + 1;
    if (r.kind !== 'tap') return;
    this.taps += 1;
    const bucket = this.perMinute[Math.floor(Date.parse(r.at) / 60_000) - this.first];
    if (bucket) bucket.taps += 1;
    if (r.outcome !== 'refused') return;
    if (bucket) bucket.refused += 1;
    const reason = r.reason ?? 'unknown';
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }

  summary(): DecisionSummary {
    return {
      from: this.from.toISOString(),
      to: this.to.toISOString(),
      taps: this.taps,
      perMinute: this.perMinute,
      refusals: [...this.refusals]
        .map(([reason, count]) => ({ reason, count }))
        .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      logins: this.logins,
      esigns: this.esigns,
    };
  }
}
