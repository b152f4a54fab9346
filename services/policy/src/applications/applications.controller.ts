import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res, UseGuards } from '@nestjs/common';
import { ApplicationCredential, ApplicationId, ApplicationRecord } from '@tapgate/contracts';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { Actor, AdminGuard, RequireRole } from '../auth/admin.guard';
import type { Principal } from '../auth/principal';
import { IfMatch, parseInput } from '../common/validation';
import { ZodBody, ZodResponse, viewSchema } from '../common/zod-openapi';
import { view, viewWithEtag, type View } from '../common/versioned-response';
import { CreateApplicationRequest, UpdateApplicationRequest } from './application.requests';
import {
  ApplicationsService,
  type ApplicationView,
  type IssuedApplicationCredential,
} from './applications.service';

const idParam = (v: string): string =>
  parseInput(z.object({ applicationId: ApplicationId }), { applicationId: v }).applicationId;
const credentialIdParam = (v: string): string =>
  parseInput(z.object({ credentialId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }), { credentialId: v })
    .credentialId;

type CredentialResponse = { application: View<ApplicationView>; credentialId: string; credential: string };

/** ApplicationView's schema, for the OpenAPI document: the record without any credential hash. */
const APPLICATION_VIEW = viewSchema(
  ApplicationRecord.omit({ credentials: true }).extend({
    credentials: z.array(ApplicationCredential.omit({ credentialSha256: true })),
  }),
);
const CREDENTIAL_RESPONSE = z.object({
  application: APPLICATION_VIEW,
  credentialId: z.string(),
  credential: z.string().describe('the secret, shown this once'),
});

function withCredential(res: ServerResponse, issued: IssuedApplicationCredential): CredentialResponse {
  // Shown exactly once: keep it out of caches and proxies.
  res.setHeader('Cache-Control', 'no-store');
  return {
    application: viewWithEtag(res, issued.application),
    credentialId: issued.credentialId,
    credential: issued.credential,
  };
}

/** NEA applications: create (credential shown once), scope, enable/disable, rotate, revoke, delete. */
@Controller('v1/applications')
@UseGuards(AdminGuard)
export class ApplicationsController {
  constructor(private readonly applications: ApplicationsService) {}

  @ZodBody(CreateApplicationRequest)
  @ZodResponse(CREDENTIAL_RESPONSE, 201, 'Created')
  @Post()
  async create(
    @Body() body: unknown,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<CredentialResponse> {
    const issued = await this.applications.create(parseInput(CreateApplicationRequest, body), actor);
    res.setHeader('Location', `/v1/applications/${issued.application.value.applicationId}`);
    return withCredential(res, issued);
  }

  @RequireRole('viewer')
  @ZodResponse(z.object({ items: z.array(APPLICATION_VIEW) }))
  @Get()
  async list(): Promise<{ items: Array<View<ApplicationView>> }> {
    return { items: (await this.applications.list()).map(view) };
  }

  @RequireRole('viewer')
  @ZodResponse(APPLICATION_VIEW)
  @Get(':applicationId')
  async get(
    @Param('applicationId') id: string,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<ApplicationView>> {
    return viewWithEtag(res, await this.applications.get(idParam(id)));
  }

  @ZodBody(UpdateApplicationRequest)
  @ZodResponse(APPLICATION_VIEW)
  @Put(':applicationId')
  async update(
    @Param('applicationId') id: string,
    @Body() body: unknown,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<ApplicationView>> {
    const req = parseInput(UpdateApplicationRequest, body);
    return viewWithEtag(res, await this.applications.update(idParam(id), req, ifMatch, actor));
  }

  @ZodResponse(APPLICATION_VIEW)
  @Post(':applicationId/disable')
  @HttpCode(200)
  async disable(
    @Param('applicationId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<ApplicationView>> {
    return viewWithEtag(res, await this.applications.setEnabled(idParam(id), false, ifMatch, actor));
  }

  @ZodResponse(APPLICATION_VIEW)
  @Post(':applicationId/enable')
  @HttpCode(200)
  async enable(
    @Param('applicationId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<ApplicationView>> {
    return viewWithEtag(res, await this.applications.setEnabled(idParam(id), true, ifMatch, actor));
  }

  @ZodResponse(CREDENTIAL_RESPONSE, 201, 'Created')
  @Post(':applicationId/credentials')
  @HttpCode(201)
  async addCredential(
    @Param('applicationId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<CredentialResponse> {
    return withCredential(res, await this.applications.addCredential(idParam(id), ifMatch, actor));
  }

  @ZodResponse(APPLICATION_VIEW)
  @Delete(':applicationId/credentials/:credentialId')
  @HttpCode(200)
  async revokeCredential(
    @Param('applicationId') id: string,
    @Param('credentialId') credentialId: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<ApplicationView>> {
    return viewWithEtag(
      res,
      await this.applications.revokeCredential(idParam(id), credentialIdParam(credentialId), ifMatch, actor),
    );
  }

  @Delete(':applicationId')
  @HttpCode(204)
  async remove(
    @Param('applicationId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
  ): Promise<void> {
    await this.applications.remove(idParam(id), ifMatch, actor);
  }
}
