import { Body, Controller, Get, HttpCode, Param, Post, Res, UseGuards } from '@nestjs/common';
import { TerminalId } from '@tapgate/contracts';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { Actor, AdminGuard, RequireRole } from '../auth/admin.guard';
import type { Principal } from '../auth/principal';
import { parseInput } from '../common/validation';
import { ZodBody } from '../common/zod-openapi';
import { CancelEnrollmentSessionRequest, OpenEnrollmentSessionRequest } from './enrollment.requests';
import { EnrollmentSessionsService, type EnrollmentSessionView } from './enrollment-sessions.service';

const terminalParam = (v: string): string =>
  parseInput(z.object({ terminalId: TerminalId }), { terminalId: v }).terminalId;

/**
 * Enrollment by tap: one session per terminal, named by the terminal's id. The console opens one, polls it
 * until it is `enrolled`, `cancelled` or `expired`, and shows each refused tap from `attempts`.
 */
@Controller('v1/enrollment-sessions')
@UseGuards(AdminGuard)
export class EnrollmentSessionsController {
  constructor(private readonly sessions: EnrollmentSessionsService) {}

  @ZodBody(OpenEnrollmentSessionRequest)
  @Post()
  async open(
    @Body() body: unknown,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<EnrollmentSessionView> {
    const req = parseInput(OpenEnrollmentSessionRequest, body);
    const opened = await this.sessions.open(req, actor);
    res.setHeader('Location', `/v1/enrollment-sessions/${opened.terminalId}`);
    return opened;
  }

  @RequireRole('viewer')
  @Get(':terminalId')
  get(@Param('terminalId') terminalId: string): Promise<EnrollmentSessionView> {
    return this.sessions.get(terminalParam(terminalId));
  }

  /** Cancels the terminal's open session; with `sessionId`, only that one (not a newer administrator's). */
  @ZodBody(CancelEnrollmentSessionRequest)
  @Post(':terminalId/cancel')
  @HttpCode(200)
  cancel(
    @Param('terminalId') terminalId: string,
    @Body() body: unknown,
    @Actor() actor: Principal,
  ): Promise<EnrollmentSessionView> {
    const { sessionId } = parseInput(CancelEnrollmentSessionRequest, body ?? {});
    return this.sessions.cancel(terminalParam(terminalId), sessionId, actor);
  }
}
