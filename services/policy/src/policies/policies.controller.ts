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
import { PolicyId, PolicyRecord, SamAccountName, type EffectivePolicy } from '@tapgate/contracts';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { Actor, AdminGuard, RequireRole } from '../auth/admin.guard';
import type { Principal } from '../auth/principal';
import type { FieldProblem } from '../common/api-error';
import { IfMatch, parseInput } from '../common/validation';
import { ZodBody, ZodQuery, ZodResponse, viewSchema } from '../common/zod-openapi';
import type { Versioned } from '../store/revisioned-store';
import { view, viewWithEtag, type View } from '../common/versioned-response';
import {
  CreatePolicyRequest,
  PoliciesService,
  UpdatePolicyRequest,
  PolicyRevision,
  type InheritedValues,
} from './policies.service';

/**
 * A policy as the API returns it: `revision` is the KV revision (what If-Match names, counted across all
 * policies); `policyRevision` is this policy's own revision number (1 = created), absent when the change
 * log does not hold the change that wrote it.
 */
type PolicyView = View<PolicyRecord> & { policyRevision?: number };
/** A created or updated policy: the record, its revisions and any warnings about it. */
type SavedPolicy = PolicyView & { warnings?: FieldProblem[] };

/** The policy with its own revision number, found in its history by the KV revision that wrote it. */
const POLICY_VIEW = z.intersection(
  viewSchema(PolicyRecord),
  z.object({
    policyRevision: z.number().int().positive().optional().describe("this policy's own revision number"),
  }),
);
const SAVED_POLICY = z.intersection(
  POLICY_VIEW,
  z.object({
    warnings: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .describe('saved, but may not do what was meant (e.g. an unknown user or group)'),
  }),
);

function numbered(v: View<PolicyRecord>, history: PolicyRevision[] | undefined): PolicyView {
  const own = history?.find((h) => h.revision === v.revision);
  return own ? { ...v, policyRevision: own.number } : v;
}

const idParam = (v: string): string => parseInput(z.object({ policyId: PolicyId }), { policyId: v }).policyId;
const EffectiveQuery = z
  .object({
    user: SamAccountName,
    groups: z
      .string()
      .max(8192)
      .optional()
      .describe('"|"-separated group DNs or CNs; default: the groups user-status reads'),
  })
  .strict();

@Controller('v1/policies')
@UseGuards(AdminGuard)
export class PoliciesController {
  constructor(private readonly policies: PoliciesService) {}

  @Get()
  @RequireRole('viewer')
  @ZodResponse(z.object({ items: z.array(POLICY_VIEW) }))
  async list(): Promise<{ items: PolicyView[] }> {
    const [items, histories] = await Promise.all([this.policies.list(), this.policies.histories()]);
    return { items: items.map((p) => numbered(view(p), histories.get(p.value.policyId))) };
  }

  /** Declared before :policyId so "effective" is not read as an id. */
  @Get('effective')
  @RequireRole('viewer')
  @ZodQuery(EffectiveQuery)
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
  @ZodResponse(POLICY_VIEW)
  async get(
    @Param('policyId') id: string,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<PolicyView> {
    const policyId = idParam(id);
    const [found, histories] = await Promise.all([
      this.policies.get(policyId),
      this.policies.histories(policyId),
    ]);
    return numbered(viewWithEtag(res, found), histories.get(policyId));
  }

  /** This policy's revisions since it was created, newest first, each with the policy as it left it. */
  @Get(':policyId/revisions')
  @RequireRole('viewer')
  @ZodResponse(z.object({ items: z.array(PolicyRevision) }))
  async revisions(@Param('policyId') id: string): Promise<{ items: PolicyRevision[] }> {
    return { items: await this.policies.revisions(idParam(id)) };
  }

  @ZodBody(CreatePolicyRequest)
  @ZodResponse(SAVED_POLICY, 201, 'Created')
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
  @ZodResponse(SAVED_POLICY)
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

  /**
   * The saved record with its own revision number and, when `warn`, `warnings` when it may not do what
   * was meant (see PoliciesService.warnings).
   */
  private async saved(res: ServerResponse, v: Versioned<PolicyRecord>, warn = true): Promise<SavedPolicy> {
    const [warnings, histories] = await Promise.all([
      warn ? this.policies.warnings(v.value) : [],
      this.policies.histories(v.value.policyId),
    ]);
    const saved = numbered(viewWithEtag(res, v), histories.get(v.value.policyId));
    return { ...saved, ...(warnings.length ? { warnings } : {}) };
  }

  @ZodResponse(POLICY_VIEW)
  @Post(':policyId/activate')
  @HttpCode(200)
  async activate(
    @Param('policyId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<PolicyView> {
    return this.saved(res, await this.policies.setActive(idParam(id), true, ifMatch, actor), false);
  }

  @ZodResponse(POLICY_VIEW)
  @Post(':policyId/deactivate')
  @HttpCode(200)
  async deactivate(
    @Param('policyId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<PolicyView> {
    return this.saved(res, await this.policies.setActive(idParam(id), false, ifMatch, actor), false);
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
