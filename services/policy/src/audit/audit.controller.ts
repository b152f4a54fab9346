import { Controller, Get, Inject, Query, Res, UseGuards } from '@nestjs/common';
import { AdminAuditRecord } from '@tapgate/contracts';
import {
  AuditError,
  AuditExportQuery,
  AuditVerifyQuery,
  DecisionQuery,
  SummaryQuery,
  type AuditApi,
  type AuditQueries,
  type DecisionPage,
  type DecisionSummary,
  type Query as AuditQuery,
  type ScanHealth,
} from '@tapgate/audit';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { AdminGuard, RequireRole } from '../auth/admin.guard';
import { ApiError } from '../common/api-error';
import { parseInput } from '../common/validation';
import { ZodQuery, ZodResponse } from '../common/zod-openapi';
import { AdminAuditLog } from './admin-audit';

export const DECISION_AUDIT_API = Symbol('DECISION_AUDIT_API');
export const DECISION_AUDIT_QUERIES = Symbol('DECISION_AUDIT_QUERIES');

const AdminQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(200),
    offset: z.coerce.number().int().min(0).max(4000).default(0),
    actor: z.string().max(256).optional(),
    action: z.string().max(64).optional(),
    target: z.string().max(256).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

/** The decision audit trail (libs/audit) and the administrator-change log, read-only. */
@Controller('v1/audit')
@UseGuards(AdminGuard)
@RequireRole('viewer')
export class AuditController {
  constructor(
    @Inject(DECISION_AUDIT_API) private readonly decisions: AuditApi,
    @Inject(DECISION_AUDIT_QUERIES) private readonly queries: AuditQueries,
    private readonly admin: AdminAuditLog,
  ) {}

  /**
   * One page of the decision trail, newest first: `from`/`to` (required), `kind`, `outcome`, `terminal`,
   * `user` (name or band id, substring), `limit`, `offset`. `unreadable`/`missing` > 0: the view is
   * incomplete (run verify).
   */
  @Get('decisions')
  @ZodQuery(DecisionQuery)
  async decisionPage(@Query() query: unknown): Promise<DecisionPage & ScanHealth> {
    const q = parseInput(DecisionQuery, query);
    return readable(() => this.queries.page(q));
  }

  /** Taps per minute, refusals by reason, logins and e-signatures by outcome, over the last `minutes`. */
  @Get('summary')
  @ZodQuery(SummaryQuery)
  async summary(@Query() query: unknown): Promise<DecisionSummary & ScanHealth> {
    const q = parseInput(SummaryQuery, query);
    return readable(() => this.queries.summary(q.minutes));
  }

  @Get('verify')
  @ZodQuery(AuditVerifyQuery)
  async verify(@Query() q: AuditQuery, @Res() res: ServerResponse): Promise<void> {
    send(res, await this.decisions.verify(q));
  }

  @Get('export')
  @ZodQuery(AuditExportQuery)
  async export(@Query() q: AuditQuery, @Res() res: ServerResponse): Promise<void> {
    send(res, await this.decisions.export(q));
  }

  @Get('admin')
  @ZodQuery(AdminQuery)
  @ZodResponse(
    z.object({
      items: z.array(AdminAuditRecord.extend({ seq: z.number().int().positive() })),
      more: z.boolean(),
    }),
  )
  async adminChanges(
    @Query() query: unknown,
  ): Promise<{ items: Array<AdminAuditRecord & { seq: number }>; more: boolean }> {
    const q = parseInput(AdminQuery, query);
    return this.admin.page({
      ...q,
      from: q.from ? new Date(q.from) : undefined,
      to: q.to ? new Date(q.to) : undefined,
    });
  }
}

/** A trail that cannot be read now is `unavailable` (503), never an empty answer. */
async function readable<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    throw new ApiError(
      'unavailable',
      e instanceof AuditError ? e.message : 'the audit stream cannot be read',
    );
  }
}

function send(
  res: ServerResponse,
  r: { status: number; contentType: string; body: string; headers?: Record<string, string> },
): void {
  res.statusCode = r.status;
  res.setHeader(
    'Content-Type',
    /charset=/.test(r.contentType) ? r.contentType : `${r.contentType}; charset=utf-8`,
  );
  res.setHeader('Cache-Control', 'no-store');
  for (const [k, v] of Object.entries(r.headers ?? {})) res.setHeader(k, v);
  res.end(r.body);
}
