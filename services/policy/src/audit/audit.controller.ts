import { Controller, Get, Inject, Query, Res, UseGuards } from '@nestjs/common';
import { AdminAuditRecord } from '@tapgate/contracts';
import { AuditExportQuery, AuditVerifyQuery, type AuditApi, type Query as AuditQuery } from '@tapgate/audit';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { AdminGuard, RequireRole } from '../auth/admin.guard';
import { parseInput } from '../common/validation';
import { ZodQuery, ZodResponse } from '../common/zod-openapi';
import { AdminAuditLog } from './admin-audit';

export const DECISION_AUDIT_API = Symbol('DECISION_AUDIT_API');

const AdminQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(200),
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
    private readonly admin: AdminAuditLog,
  ) {}

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
  @ZodResponse(z.object({ items: z.array(AdminAuditRecord.extend({ seq: z.number().int().positive() })) }))
  async adminChanges(@Query() query: unknown): Promise<{ items: Array<AdminAuditRecord & { seq: number }> }> {
    const q = parseInput(AdminQuery, query);
    return {
      items: await this.admin.list({
        ...q,
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
      }),
    };
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
