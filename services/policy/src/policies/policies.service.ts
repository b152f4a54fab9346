import { Injectable } from '@nestjs/common';
import { gatewayBaseline, loadAgentConfig, userStatusBaseline } from '@tapgate/config';
import {
  CACHE_EXPIRY_CHOICES,
  DEFAULT_POLICY_ID,
  KvBuckets,
  PolicyId,
  PolicyKind,
  PolicyOverrides,
  PolicyRecord,
  SamAccountName,
  ServiceBaseline,
  combineBaselines,
  effectivePolicy,
  type BaselineSettings,
  type EffectivePolicy,
  type ReportedBaseline,
  receiving,
} from '@tapgate/contracts';
import { Messaging, openBucket } from '@tapgate/messaging';
import { z } from 'zod';
import { AdminAuditLog } from '../audit/admin-audit';
import type { Principal } from '../auth/principal';
import { ApiError, notFound, type FieldProblem } from '../common/api-error';
import { fieldProblems, invalidRequest } from '../common/validation';
import { UserDirectory } from '../enrollments/user-directory';
import { Buckets } from '../store/buckets';
import { DirectorySearch } from '../users/directory-search';
import { RevisionedStore, type Versioned } from '../store/revisioned-store';

const Fields = {
  name: z.string().trim().min(1).max(128),
  description: z.string().max(1024).optional(),
  group: z.string().trim().min(1).max(1024).optional(),
  priority: z.number().int().min(0).max(1000).optional(),
  user: SamAccountName.optional(),
  active: z.boolean().optional(),
  settings: PolicyOverrides,
};
/** Route names under /v1/policies/, which a policy id would be shadowed by. */
const RESERVED_IDS = ['effective', 'inherited'];
export const CreatePolicyRequest = z
  .object({
    policyId: PolicyId.refine((id) => !RESERVED_IDS.includes(id.toLowerCase()), {
      message: `reserved: ${RESERVED_IDS.join(', ')}`,
    }),
    kind: PolicyKind,
    ...Fields,
  })
  .strict();
export type CreatePolicyRequest = z.infer<typeof CreatePolicyRequest>;
export const UpdatePolicyRequest = z.object(Fields).strict();
export type UpdatePolicyRequest = z.infer<typeof UpdatePolicyRequest>;

/**
 * The configuration defaults, derived from the declarations in libs/config (an empty configuration)
 * through the same mappings the services use: what explain shows for a service no replica of which has
 * reported its baseline yet, flagged `reported: false`.
 */
let configDefaults: BaselineSettings | undefined;
function configurationDefaults(): BaselineSettings {
  if (!configDefaults) {
    const cfg = loadAgentConfig({ env: {}, sections: ['gateway', 'userStatus'] });
    configDefaults = {
      ...userStatusBaseline(cfg.userStatus).settings,
      ...gatewayBaseline(cfg.gateway).settings,
    };
  }
  return configDefaults;
}

/** One saved state of a policy, from the administrator-change log. */
export const PolicyRevision = z
  .object({
    number: z
      .number()
      .int()
      .positive()
      .describe("this policy's own count: 1 = created, 2 = the first change after it (not the KV revision)"),
    revision: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('the KV revision the change wrote (what If-Match names); absent for a delete'),
    action: z.string(),
    at: z.string(),
    actor: z.string(),
    policy: PolicyRecord.optional().describe('the policy as this change left it (as it was, for a delete)'),
  })
  .strict();
export type PolicyRevision = z.infer<typeof PolicyRevision>;

/** A record as the administrator-change log holds it: the policy plus the KV revision written. */
const Snapshot = z.looseObject({ revision: z.number().int().positive().optional() });

/** The policy in a change log snapshot, without the KV revision it was written at. */
function snapshotPolicy(snapshot: unknown): PolicyRecord | undefined {
  if (!Snapshot.safeParse(snapshot).success) return undefined;
  const { revision: _written, ...rest } = snapshot as { revision?: number };
  const parsed = receiving(PolicyRecord).safeParse(rest);
  return parsed.success ? parsed.data : undefined;
}

/** What the console needs to show inherited values: the baseline and the baseline under the default policy. */
export interface InheritedValues {
  baseline: ReportedBaseline;
  /** What a group or user policy inherits: the baseline < the default policy. */
  inherited: EffectivePolicy;
  cacheExpiryChoices: readonly number[];
}

export type BaselineStatus = Pick<ReportedBaseline, 'missing' | 'conflicts'>;

/** Policies in the KV bucket, with optimistic concurrency, audit, and the effective-policy view. */
@Injectable()
export class PoliciesService {
  private readonly store: RevisionedStore<PolicyRecord>;

  constructor(
    buckets: Buckets,
    private readonly audit: AdminAuditLog,
    private readonly directory: UserDirectory,
    private readonly messaging: Messaging,
    private readonly groups: DirectorySearch,
  ) {
    this.store = new RevisionedStore(buckets, KvBuckets.policies, PolicyRecord, 'policy');
  }

  list(): Promise<Array<Versioned<PolicyRecord>>> {
    return this.store.list();
  }

  async get(policyId: string): Promise<Versioned<PolicyRecord>> {
    const found = await this.store.get(policyId);
    if (!found) throw notFound('policy', policyId);
    return found;
  }

  /**
   * Every policy's revisions since it was (last) created, oldest first, numbered per policy: read from the
   * administrator-change log, which records each create, update, (de)activation and delete with the
   * policy as it left it. One scan for all policies.
   */
  async histories(onlyPolicyId?: string): Promise<Map<string, PolicyRevision[]>> {
    const changes = await this.audit.about('policy', onlyPolicyId);
    const out = new Map<string, PolicyRevision[]>();
    for (const c of changes) {
      if (!c.target || !c.action.startsWith('policy.')) continue;
      // A policy created again after a delete starts a new history.
      const list = c.action === 'policy.create' ? [] : (out.get(c.target.id) ?? []);
      const deleted = c.action === 'policy.delete';
      const snapshot = deleted ? c.before : c.after;
      const written = deleted ? undefined : Snapshot.safeParse(c.after).data?.revision;
      const policy = snapshotPolicy(snapshot);
      list.push({
        number: list.length + 1,
        ...(written !== undefined ? { revision: written } : {}),
        action: c.action,
        at: c.at,
        actor: c.actor,
        ...(policy ? { policy } : {}),
      });
      out.set(c.target.id, list);
    }
    return out;
  }

  /** This policy's revisions, newest first (404 when it has no history and does not exist). */
  async revisions(policyId: string): Promise<PolicyRevision[]> {
    const [history, current] = await Promise.all([this.histories(policyId), this.store.get(policyId)]);
    const list = history.get(policyId) ?? [];
    if (!current && list.length === 0) throw notFound('policy', policyId);
    return list.reverse();
  }

  async create(req: CreatePolicyRequest, actor: Principal): Promise<Versioned<PolicyRecord>> {
    const stamp = { by: actor.name, at: new Date().toISOString() };
    const record = this.validated({
      v: 1,
      policyId: req.policyId,
      kind: req.kind,
      name: req.name,
      ...(req.description !== undefined ? { description: req.description } : {}),
      ...(req.group !== undefined ? { group: req.group } : {}),
      ...(req.priority !== undefined ? { priority: req.priority } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
      active: req.active ?? true,
      settings: req.settings,
      created: stamp,
      updated: stamp,
    });
    await this.checkUnique(record);
    const revision = await this.store.create(record.policyId, record).catch((e: unknown) => {
      throw e instanceof ApiError && e.code === 'conflict'
        ? new ApiError('conflict', `policy ${record.policyId} already exists`, 'policyId')
        : e;
    });
    await this.audit.record(actor, 'policy.create', {
      target: { type: 'policy', id: record.policyId },
      after: { ...record, revision },
    });
    return { value: record, revision };
  }

  async update(
    policyId: string,
    req: UpdatePolicyRequest,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<PolicyRecord>> {
    return this.modify(policyId, ifMatch, actor, 'policy.update', (cur) => ({
      v: 1,
      policyId: cur.policyId,
      kind: cur.kind,
      name: req.name,
      ...(req.description !== undefined ? { description: req.description } : {}),
      ...(req.group !== undefined ? { group: req.group } : {}),
      ...(req.priority !== undefined ? { priority: req.priority } : {}),
      ...(req.user !== undefined ? { user: req.user } : {}),
      active: req.active ?? cur.active,
      settings: req.settings,
      created: cur.created,
      updated: cur.updated,
    }));
  }

  setActive(
    policyId: string,
    active: boolean,
    ifMatch: number | undefined,
    actor: Principal,
  ): Promise<Versioned<PolicyRecord>> {
    return this.modify(policyId, ifMatch, actor, active ? 'policy.activate' : 'policy.deactivate', (cur) =>
      cur.active === active ? undefined : { ...cur, active },
    );
  }

  async remove(policyId: string, ifMatch: number | undefined, actor: Principal): Promise<void> {
    const cur = await this.get(policyId);
    if (ifMatch !== undefined && ifMatch !== cur.revision) throw this.stale(policyId, ifMatch);
    await this.store.delete(policyId, ifMatch ?? cur.revision);
    await this.audit.record(actor, 'policy.delete', {
      target: { type: 'policy', id: policyId },
      before: { ...cur.value, revision: cur.revision },
    });
  }

  /**
   * The effective policy of a user. Without `groups`, the user's AD groups are asked from user-status;
   * when it cannot answer, the result says so and no group policy applies.
   */
  async effective(
    sAMAccountName: string,
    groups: string[] | undefined,
    /** Where `groups` came from, when given. */
    groupsFrom = 'request',
  ): Promise<
    EffectivePolicy & { user: string; groups: string[]; groupsFrom: string; baseline: BaselineStatus }
  > {
    if (groups === undefined) ({ groups, from: groupsFrom } = await this.directory.groupsOf(sAMAccountName));
    const [policies, baseline] = await Promise.all([this.versioned(), this.baseline()]);
    return {
      user: sAMAccountName,
      groups,
      groupsFrom,
      ...effectivePolicy(policies, { sAMAccountName, groups }, baseline.settings, baseline.explain),
      baseline: { missing: baseline.missing, conflicts: baseline.conflicts },
    };
  }

  /** The baseline and what group and user policies inherit, for the console's forms. */
  async inherited(): Promise<InheritedValues> {
    const [policies, baseline] = await Promise.all([this.versioned(), this.baseline()]);
    const defaults = policies.filter((p) => p.record.kind === 'default');
    return {
      baseline,
      inherited: effectivePolicy(defaults, {}, baseline.settings, baseline.explain),
      cacheExpiryChoices: CACHE_EXPIRY_CHOICES,
    };
  }

  private async versioned(): Promise<Array<{ record: PolicyRecord; revision: number }>> {
    return (await this.store.list()).map((p) => ({ record: p.value, revision: p.revision }));
  }

  /** What the running gateways and user-status replicas reported (KvBuckets.policyBaselines). */
  async baseline(): Promise<ReportedBaseline> {
    const kv = await openBucket(this.messaging, KvBuckets.policyBaselines).catch((e: unknown) => {
      throw new ApiError('unavailable', `baselines bucket: ${(e as Error).message}`);
    });
    // All keys first: a get() while the keys iterator is open ends the iteration early.
    const keys: string[] = [];
    for await (const key of await kv.keys()) keys.push(key);
    const reports: ServiceBaseline[] = [];
    for (const key of keys) {
      const entry = await kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      const parsed = receiving(ServiceBaseline).safeParse(entry.json());
      if (parsed.success) reports.push(parsed.data);
    }
    return combineBaselines(reports, configurationDefaults());
  }

  private async modify(
    policyId: string,
    ifMatch: number | undefined,
    actor: Principal,
    action: string,
    change: (r: PolicyRecord) => PolicyRecord | undefined,
  ): Promise<Versioned<PolicyRecord>> {
    const cur = await this.get(policyId);
    if (ifMatch !== undefined && ifMatch !== cur.revision) throw this.stale(policyId, ifMatch);
    const next = change(cur.value);
    if (!next) return cur;
    const record = this.validated({ ...next, updated: { by: actor.name, at: new Date().toISOString() } });
    await this.checkUnique(record);
    const revision = await this.store.update(policyId, record, ifMatch ?? cur.revision);
    await this.audit.record(actor, action, {
      target: { type: 'policy', id: policyId },
      before: { ...cur.value, revision: cur.revision },
      after: { ...record, revision },
    });
    return { value: record, revision };
  }

  /**
   * What is saved but may not do what the administrator meant: a user policy for a name the directory
   * does not know (asked of user-status, as a tap would be), a group policy for a group the [ldap]
   * directory does not have, or either when the directory could not be asked. Warnings, not errors: the
   * account or group may be created later.
   */
  async warnings(r: PolicyRecord): Promise<FieldProblem[]> {
    if (r.kind === 'user' && r.user) {
      const found = await this.directory.lookup(r.user);
      if (found.found) return [];
      return [
        {
          path: 'user',
          message:
            found.reason === 'not_found'
              ? `the directory has no user "${r.user}"; this policy applies only once such an account exists`
              : `the directory could not be asked whether user "${r.user}" exists (${found.why}); check the name`,
        },
      ];
    }
    if (r.kind === 'group' && r.group) {
      const exists = await this.groups.groupExists(r.group).catch((e: unknown) => {
        if (e instanceof ApiError) return e;
        throw e;
      });
      if (exists === true) return [];
      return [
        {
          path: 'group',
          message:
            exists === false
              ? `the directory has no group "${r.group}"; this policy applies only once such a group exists`
              : `the group "${r.group}" could not be checked (${exists.message}); check the name`,
        },
      ];
    }
    return [];
  }

  /** Checks the record against its schema; every problem is listed in one 400. */
  private validated(r: PolicyRecord): PolicyRecord {
    const parsed = PolicyRecord.safeParse(r);
    if (parsed.success) return parsed.data;
    throw invalidRequest(fieldProblems(parsed.error));
  }

  /** One user policy per user. */
  private async checkUnique(r: PolicyRecord): Promise<void> {
    if (r.kind !== 'user' || !r.user) return;
    const clash = (await this.store.list()).find(
      (p) =>
        p.value.kind === 'user' &&
        p.key !== r.policyId &&
        p.value.user?.toLowerCase() === r.user!.toLowerCase(),
    );
    if (clash) throw new ApiError('conflict', `user ${r.user} already has policy ${clash.key}`, 'user');
  }

  private stale(policyId: string, ifMatch: number): ApiError {
    return new ApiError('conflict', `policy ${policyId} changed since revision ${ifMatch}; reload and retry`);
  }
}

export { DEFAULT_POLICY_ID };
