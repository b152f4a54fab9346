import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import { BandId, EnrollmentRecord } from '@tapgate/contracts';
import type { ServerResponse } from 'node:http';
import { Actor, AdminGuard, RequireRole } from '../auth/admin.guard';
import type { Principal } from '../auth/principal';
import { IfMatch, parseInput } from '../common/validation';
import { ZodBody, ZodQuery, ZodResponse, viewSchema } from '../common/zod-openapi';
import { view, viewWithEtag, type View } from '../common/versioned-response';
import {
  EnrollRequest,
  EnrollUidRequest,
  EnrollmentQuery,
  RebindRequest,
  RekeyRequest,
} from './enrollment.requests';
import { EnrollmentsService, UID_WARNING } from './enrollments.service';
import type { BindingState } from './user-directory';
import { ApiError } from '../common/api-error';
import { z } from 'zod';

const BADGE_PREFIX = 'uid-';

const bandIdParam = (v: string): string => parseInput(z.object({ bandId: BandId }), { bandId: v }).bandId;

@Controller('v1/enrollments')
@UseGuards(AdminGuard)
export class EnrollmentsController {
  constructor(private readonly enrollments: EnrollmentsService) {}

  @ZodBody(EnrollRequest)
  @ZodResponse(viewSchema(EnrollmentRecord), 201, 'Created')
  @Post()
  async enroll(
    @Body() body: unknown,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord>> {
    const req = parseInput(EnrollRequest, body, publicKeyProblem);
    if (req.bandId.startsWith(BADGE_PREFIX)) {
      throw new ApiError(
        'invalid_request',
        'bandId: ids starting with "uid-" are UID badges; enroll them with POST /v1/enrollments/uid-badges',
        'bandId',
      );
    }
    const created = await this.enrollments.enroll(req, actor);
    res.setHeader('Location', `/v1/enrollments/${created.value.bandId}`);
    return viewWithEtag(res, created);
  }

  /**
   * A plain NFC UID badge, stored as its own kind under `uid-<hex>`. The answer warns that a UID has no
   * proof of possession (docs/security.md).
   */
  @ZodBody(EnrollUidRequest)
  @Post('uid-badges')
  async enrollUid(
    @Body() body: unknown,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord> & { warning: string }> {
    const req = parseInput(EnrollUidRequest, body);
    const created = await this.enrollments.enrollUid(req, actor);
    res.setHeader('Location', `/v1/enrollments/${created.value.bandId}`);
    return { ...viewWithEtag(res, created), warning: UID_WARNING };
  }

  @RequireRole('viewer')
  @Get()
  @ZodQuery(EnrollmentQuery)
  @ZodResponse(z.object({ items: z.array(viewSchema(EnrollmentRecord)) }))
  async list(@Query() query: unknown): Promise<{ items: Array<View<EnrollmentRecord>> }> {
    const filter = parseInput(EnrollmentQuery, query);
    return { items: (await this.enrollments.list(filter)).map(view) };
  }

  @RequireRole('viewer')
  @Get(':bandId')
  @ZodResponse(viewSchema(EnrollmentRecord))
  async get(
    @Param('bandId') bandId: string,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord>> {
    return viewWithEtag(res, await this.enrollments.get(bandIdParam(bandId)));
  }

  /** Where the enrollment's directory object stands now: bound, renamed, gone, identity_changed, unbound. */
  @RequireRole('viewer')
  @Get(':bandId/binding')
  async binding(@Param('bandId') bandId: string): Promise<BindingState> {
    return this.enrollments.binding(bandIdParam(bandId));
  }

  @ZodBody(RebindRequest)
  @ZodResponse(viewSchema(EnrollmentRecord))
  @Post(':bandId/binding')
  @HttpCode(200)
  async rebind(
    @Param('bandId') bandId: string,
    @Body() body: unknown,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord>> {
    const id = bandIdParam(bandId);
    const req = parseInput(RebindRequest, body ?? {});
    return viewWithEtag(res, await this.enrollments.rebind(id, req.user?.sAMAccountName, ifMatch, actor));
  }

  @ZodResponse(viewSchema(EnrollmentRecord))
  @Post(':bandId/suspend')
  @HttpCode(200)
  async suspend(
    @Param('bandId') bandId: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord>> {
    return viewWithEtag(res, await this.enrollments.setActive(bandIdParam(bandId), false, ifMatch, actor));
  }

  @ZodResponse(viewSchema(EnrollmentRecord))
  @Post(':bandId/reactivate')
  @HttpCode(200)
  async reactivate(
    @Param('bandId') bandId: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord>> {
    return viewWithEtag(res, await this.enrollments.setActive(bandIdParam(bandId), true, ifMatch, actor));
  }

  @ZodBody(RekeyRequest)
  @ZodResponse(viewSchema(EnrollmentRecord))
  @Put(':bandId/key')
  async rekey(
    @Param('bandId') bandId: string,
    @Body() body: unknown,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<EnrollmentRecord>> {
    const id = bandIdParam(bandId);
    const req = parseInput(RekeyRequest, body, publicKeyProblem);
    return viewWithEtag(res, await this.enrollments.rekey(id, req.publicKey, ifMatch, actor));
  }

  @Delete(':bandId')
  @HttpCode(204)
  async remove(
    @Param('bandId') bandId: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
  ): Promise<void> {
    await this.enrollments.remove(bandIdParam(bandId), ifMatch, actor);
  }
}

/** Every problem with `publicKey` (missing, wrong type) reports the same code as an unreadable key. */
function publicKeyProblem(e: ApiError): ApiError {
  if (e.field !== 'publicKey') return e;
  return new ApiError(
    'invalid_public_key',
    'publicKey: required, as a PEM SPKI or base64url P-256 point (string) or a JWK (object)',
    'publicKey',
  );
}
