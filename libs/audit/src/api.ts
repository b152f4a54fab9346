import { z } from 'zod';
import { AuditError } from './errors';
import { MAX_LISTED, WHOLE_TRAIL, newTally, tallyComplete } from './export';
import {
  PageCollector,
  SummaryCollector,
  type DecisionPage,
  type DecisionQuery,
  type DecisionSummary,
} from './query';
import type { AuditTrail } from './trail';

/** A framework-free HTTP answer; the policy service maps it onto its own routes. */
export interface AuditApiResponse {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

export type Query = Readonly<Record<string, string | undefined>>;

const Seq = z.coerce.number().int().positive();
/** The query of `GET /v1/audit/verify` (exported for the OpenAPI document). */
export const VerifyQuery = z.object({ fromSeq: Seq.optional(), toSeq: Seq.optional() }).strict();
const Iso = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
/** The query of `GET /v1/audit/export` (exported for the OpenAPI document). */
export const ExportQuery = z
  .object({
    from: Iso.default(WHOLE_TRAIL.from),
    to: Iso.default(WHOLE_TRAIL.to),
    format: z.enum(['json', 'csv']).default('json'),
  })
  .strict()
  .refine((q) => q.from < q.to, { message: 'from must be before to', path: ['to'] });

const json = (status: number, value: unknown): AuditApiResponse => ({
  status,
  contentType: 'application/json',
  body: JSON.stringify(value),
});

function badRequest(error: z.ZodError): AuditApiResponse {
  return json(400, {
    error: 'invalid_query',
    issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  });
}

async function guarded(run: () => Promise<AuditApiResponse>): Promise<AuditApiResponse> {
  try {
    return await run();
  } catch (e) {
    // NATS or JetStream trouble: the trail cannot be read now; nothing about it is guessed.
    const message = e instanceof AuditError ? e.message : 'the audit stream cannot be read';
    return json(503, { error: 'unavailable', message });
  }
}

/**
 * Handlers for `GET /v1/audit/verify?fromSeq&toSeq` and `GET /v1/audit/export?from&to&format` (no
 * from/to: the whole trail), to be
 * mounted by a service (with its own authentication: the trail names users and decisions).
 * verify answers 200 with the report whether or not the chain is intact (`ok` says which).
 */
export function createAuditApi(trail: AuditTrail) {
  return {
    verify: (query: Query): Promise<AuditApiResponse> =>
      guarded(async () => {
        const q = VerifyQuery.safeParse(query);
        if (!q.success) return badRequest(q.error);
        return json(200, await trail.verifyChain(q.data));
      }),
    export: (query: Query): Promise<AuditApiResponse> =>
      guarded(async () => {
        const q = ExportQuery.safeParse(query);
        if (!q.success) return badRequest(q.error);
        const result = await trail.exportRange(q.data);
        const t = result.tally;
        const stamp = (d: Date) => d.toISOString().replace(/[:.]/g, '-');
        const whole = query.from === undefined && query.to === undefined;
        const name = whole ? 'all' : `${stamp(q.data.from)}-${stamp(q.data.to)}`;
        return {
          status: 200,
          contentType: result.contentType,
          body: result.body,
          // The counts travel beside the document, so that a download can be checked against the stream.
          headers: {
            'content-disposition': `attachment; filename="tapgate-audit-${name}.${q.data.format}"`,
            'x-tapgate-audit-records': String(result.count),
            'x-tapgate-audit-stream-records': String(t.streamMessages),
            'x-tapgate-audit-scanned': String(t.read),
            'x-tapgate-audit-unreadable': t.unreadable.slice(0, MAX_LISTED).join(','),
            'x-tapgate-audit-missing': String(t.missingCount),
            'x-tapgate-audit-complete': String(tallyComplete(t)),
          },
        };
      }),
  };
}
export type AuditApi = ReturnType<typeof createAuditApi>;

/** What a scan could not read, beside its result: the reader says the view is incomplete. */
export interface ScanHealth {
  /** Sequences in the scanned window that are not valid records, and sequences the stream lacks. */
  unreadable: number;
  missing: number;
}

/**
 * Typed reads for a service's own routes (which validate the query and map errors themselves). Reject
 * with AuditError when the stream cannot be read.
 */
export function createAuditQueries(trail: AuditTrail) {
  return {
    /** One page of the records in [from, to) that match the filters, newest first. */
    async page(q: DecisionQuery): Promise<DecisionPage & ScanHealth> {
      const tally = newTally();
      const pages = new PageCollector(q);
      for await (const e of trail.records({ from: q.from, to: q.to }, tally)) {
        if ('record' in e) pages.add(e);
      }
      return { ...pages.page(), unreadable: tally.unreadable.length, missing: tally.missingCount };
    },
    /** Taps per minute, refusals by reason, logins and e-signatures by outcome over the last minutes. */
    async summary(minutes: number, now = new Date()): Promise<DecisionSummary & ScanHealth> {
      const from = new Date(now.getTime() - minutes * 60_000);
      const tally = newTally();
      const counts = new SummaryCollector(from, now);
      for await (const e of trail.records({ from, to: now }, tally)) {
        if ('record' in e) counts.add(e.record);
      }
      return { ...counts.summary(), unreadable: tally.unreadable.length, missing: tally.missingCount };
    },
  };
}
export type AuditQueries = ReturnType<typeof createAuditQueries>;
