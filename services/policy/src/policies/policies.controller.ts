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
import { PolicyId, SamAccountName, type EffectivePolicy, type PolicyRecord } from '@tapgate/contracts';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { Actor, AdminGuard, RequireRole } from '../auth/admin.guard';
import type { Principal } from '../auth/principal';
import type { FieldProblem } from '../common/api-error';
import { IfMatch, parseInput } from '../common/validation';
import { ZodBody } from '../common/zod-openapi';
import type { Versioned } from '../store/revisioned-store';
import { view, viewWithEtag, type View } from '../common/versioned-response';
import {
  CreatePolicyRequest,
  PoliciesService,
  UpdatePolicyRequest,
  type InheritedValues,
} from './policies.service';

/** A created or updated policy: the record, its revision and any warnings about it. */
type SavedPolicy = View<PolicyRecord> & { warnings?: FieldProblem[] };

const idParam = (v: string): string => parseInput(z.object({ policyId: PolicyId }), { policyId: v }).policyId;
const EffectiveQuery = z.object({ user: SamAccountName, groups: z.string().max(8192).optional() }).strict();

@Controller('v1/policies')
@UseGuards(AdminGuard)
export class PoliciesController {
  constructor(private readonly policies: PoliciesService) {}

  @Get()
  @RequireRole('viewer')
  async list(): Promise<{ items: Array<View<PolicyRecord>> }> {
    return { items: (await this.policies.list()).map(view) };
  }

  /** Declared before :policyId so "effective" is not read as an id. */
  @Get('effective')
  @RequireRole('viewer')
  effective(@Query() query: unknown): Promise<EffectivePolicy & { user: string; groups: string[] }> {
    const q = parseInput(EffectiveQuery, query);
    const groups = q.groups
      ?.split('|')
      .map((g) => g.trim())
      .filter(Boolean);
    return this.policies.effective(q.user, groups);
  }

  /** What the services run with and what group and user policies inherit: the console's form values. */
  @Get('inherited')
  @RequireRole('viewer')
  inherited(): Promise<InheritedValues> {
    return this.policies.inherited();
  }

  @Get(':policyId')
  @RequireRole('viewer')
  async get(
    @Param('policyId') id: string,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<PolicyRecord>> {
    return viewWithEtag(res, await this.policies.get(idParam(id)));
  }

  @ZodBody(CreatePolicyRequest)
  @Post()
  async create(
    @Body() body: unknown,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<SavedPolicy> {
    const created = await this.policies.create(parseInput(CreatePolicyRequest, body), actor);
    res.setHeader('Location', `/v1/policies/${created.value.policyId}`);
    return this.saved(res, created);
  }

  @ZodBody(UpdatePolicyRequest)
  @Put(':policyId')
  async update(
    @Param('policyId') id: string,
    @Body() body: unknown,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<SavedPolicy> {
    const policyId = idParam(id);
    const req = parseInput(UpdatePolicyRequest, body);
    return this.saved(res, await this.policies.update(policyId, req, ifMatch, actor));
  }

  /** The saved record, with `warnings` when it may not do what was meant (see PoliciesService.warnings). */
  private async saved(res: ServerResponse, v: Versioned<PolicyRecord>): Promise<SavedPolicy> {
    const warnings = await this.policies.warnings(v.value);
    return { ...viewWithEtag(res, v), ...(warnings.length ? { warnings } : {}) };
  }

  @Post(':policyId/activate')
  @HttpCode(200)
  async activate(
    @Param('policyId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<PolicyRecord>> {
    return viewWithEtag(res, await this.policies.setActive(idParam(id), true, ifMatch, actor));
  }

  @Post(':policyId/deactivate')
  @HttpCode(200)
  async deactivate(
    @Param('policyId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<PolicyRecord>> {
    return viewWithEtag(res, await this.policies.setActive(idParam(id), false, ifMatch, actor));
  }

  @Delete(':policyId')
  @HttpCode(204)
  async remove(
    @Param('policyId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
  ): Promise<void> {
    await this.policies.remove(idParam(id), ifMatch, actor);
  }
}
