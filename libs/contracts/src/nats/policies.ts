import { z } from 'zod';
import { IsoTime, SamAccountName } from '../ids';

// Policies (bucket KvBuckets.policies, key = policyId). The policy service writes them; user-status and
// every gateway replica watch the bucket and compute the effective policy with effectivePolicy() below,
// the one place that decides which policy wins. Additive changes only.

/** The guide's Cache Expiry choices, 30 seconds to 24 hours. */
export const CACHE_EXPIRY_CHOICES = [
  30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400,
] as const;
export const CacheExpirySeconds = z
  .number()
  .int()
  .refine((n) => (CACHE_EXPIRY_CHOICES as readonly number[]).includes(n), {
    message: `one of ${CACHE_EXPIRY_CHOICES.join(', ')} seconds`,
  });

export const PolicyId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'policy id: 1-64 of A-Z a-z 0-9 _ -');
/** The id of the default group policy. */
export const DEFAULT_POLICY_ID = 'default';

const ActiveDirectorySection = z
  .object({
    checkUserStatus: z.boolean(),
    cacheUserStatus: z.boolean(),
    cacheExpirySeconds: CacheExpirySeconds,
  })
  .strict();
const TapSection = z
  .object({ allowBleTaps: z.boolean(), allowUidTaps: z.boolean(), requirePresence: z.boolean() })
  .strict();
const EsignSection = z
  .object({
    secondSignerMustDiffer: z.boolean(),
    ceremonyTimeoutSeconds: z.number().int().min(10).max(3600),
  })
  .strict();

/** Every setting a policy governs, complete. */
export const PolicySettings = z
  .object({ activeDirectory: ActiveDirectorySection, tap: TapSection, esign: EsignSection })
  .strict();
export type PolicySettings = z.infer<typeof PolicySettings>;

/** What one policy sets: any subset of the fields; unset fields come from the policy below it. */
export const PolicyOverrides = z
  .object({
    activeDirectory: ActiveDirectorySection.partial().optional(),
    tap: TapSection.partial().optional(),
    esign: EsignSection.partial().optional(),
  })
  .strict();
export type PolicyOverrides = z.infer<typeof PolicyOverrides>;

const Stamp = z.object({ by: z.string().max(256), at: IsoTime }).strict();

export const PolicyKind = z.enum(['default', 'group', 'user']);
export type PolicyKind = z.infer<typeof PolicyKind>;

export const PolicyRecord = z
  .object({
    v: z.literal(1),
    policyId: PolicyId,
    kind: PolicyKind,
    name: z.string().min(1).max(128),
    description: z.string().max(1024).optional(),
    /** kind "group": the AD group, as its CN ("Line 3 Operators") or DN. */
    group: z.string().min(1).max(1024).optional(),
    /** kind "group": when several group policies apply, the higher priority wins per field. */
    priority: z.number().int().min(0).max(1000).optional(),
    /** kind "user": the individual user. */
    user: SamAccountName.optional(),
    /** Only active policies take part in the effective policy. */
    active: z.boolean(),
    settings: PolicyOverrides,
    created: Stamp,
    updated: Stamp,
  })
  .strict()
  .superRefine((p, ctx) => {
    const need = (ok: boolean, path: string, message: string) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: [path], message });
    };
    need(p.kind !== 'group' || p.group !== undefined, 'group', 'required for a group policy');
    need(p.kind !== 'user' || p.user !== undefined, 'user', 'required for a user policy');
    need(p.kind === 'group' || p.group === undefined, 'group', 'only a group policy names a group');
    need(p.kind === 'user' || p.user === undefined, 'user', 'only a user policy names a user');
    need(
      (p.kind === 'default') === (p.policyId === DEFAULT_POLICY_ID),
      'policyId',
      `the default policy, and only it, has the id "${DEFAULT_POLICY_ID}"`,
    );
  });
export type PolicyRecord = z.infer<typeof PolicyRecord>;

/**
 * What the services run with for the settings they govern, before any policy: user-status's
 * [user_status] check/cache/expiry and the gateway's [gateway] tap and e-signature keys. Wider than
 * PolicySettings: configuration may hold any expiry of 1 s-1 day and a fractional ceremony timeout.
 * There is no built-in copy anywhere else: each service publishes its baseline (ServiceBaseline).
 */
export const BaselineSettings = z
  .object({
    activeDirectory: z
      .object({
        checkUserStatus: z.boolean(),
        cacheUserStatus: z.boolean(),
        cacheExpirySeconds: z.number().int().min(1).max(86_400),
      })
      .strict(),
    tap: TapSection,
    esign: z
      .object({
        secondSignerMustDiffer: z.boolean(),
        ceremonyTimeoutSeconds: z.number().positive().max(86_400),
      })
      .strict(),
  })
  .strict();
export type BaselineSettings = z.infer<typeof BaselineSettings>;
export type PolicySection = keyof BaselineSettings;
/** Every field a policy governs, as "section.field". */
export const POLICY_FIELDS: readonly string[] = Object.entries(BaselineSettings.shape).flatMap(
  ([section, s]) => Object.keys(s.shape).map((field) => `${section}.${field}`),
);

/** The services whose configuration is a baseline, and the sections each one governs. Do not rename. */
export const BaselineService = z.enum(['user-status', 'ws-gateway']);
export type BaselineService = z.infer<typeof BaselineService>;
export const BASELINE_OWNER: Record<PolicySection, BaselineService> = {
  activeDirectory: 'user-status',
  tap: 'ws-gateway',
  esign: 'ws-gateway',
};

/**
 * One running replica's baseline (bucket KvBuckets.policyBaselines, key baselineKey(service, instance)),
 * written at start and every BASELINE_REFRESH_MS, deleted at a clean stop. The policy service reads it
 * for explain and the console's inherited values.
 */
export const ServiceBaseline = z
  .object({
    v: z.literal(1),
    service: BaselineService,
    instance: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    at: IsoTime,
    settings: BaselineSettings.partial(),
    /** Per field ("tap.requirePresence"), the configuration key it comes from ("[gateway] require_presence"). */
    keys: z.record(z.string().max(64), z.string().max(128)),
  })
  .strict();
export type ServiceBaseline = z.infer<typeof ServiceBaseline>;
export const baselineKey = (service: BaselineService, instance: string): string => `${service}.${instance}`;
export const BASELINE_REFRESH_MS = 60_000;
/** A baseline not refreshed for this long belongs to a replica that is gone (unless it is the only one). */
export const BASELINE_STALE_MS = 3 * BASELINE_REFRESH_MS;

/** Where an effective value came from: a service's configuration, or a policy. */
export type PolicySourceRef =
  | {
      kind: 'baseline';
      service: BaselineService;
      /** The configuration key ("[gateway] require_presence"), when the service reported it. */
      key?: string;
      /** False: no replica of the service has reported; the value is the configuration default. */
      reported?: boolean;
    }
  | { kind: PolicyKind; policyId: string; name: string; revision?: number };

export interface EffectivePolicy<K extends PolicySection = PolicySection> {
  settings: Pick<BaselineSettings, K>;
  /** Per field ("tap.requirePresence"), which policy (or which service's configuration) set it. */
  explain: Record<string, PolicySourceRef>;
  /** The policies that applied, lowest precedence first. */
  applied: PolicySourceRef[];
}

/** Does an AD group (as user-status reports it: a DN or a plain name) match a policy's `group`? */
export function groupMatches(policyGroup: string, userGroup: string): boolean {
  const want = policyGroup.trim().toLowerCase();
  const have = userGroup.trim().toLowerCase();
  if (want === have) return true;
  const cn = /^cn=((?:\\.|[^,])*)/i.exec(have)?.[1]?.replace(/\\(.)/g, '$1');
  return cn !== undefined && cn === want;
}

type Versioned = { record: PolicyRecord; revision?: number };
const unwrap = (p: PolicyRecord | Versioned): Versioned => ('record' in p ? p : { record: p });

/**
 * The effective policy of one user, the one computation behind explain, the console, user-status and
 * every gateway: base (the services' configuration) < the default policy < group policies of the user's
 * AD groups (ascending priority, then policy id; so per field the highest-priority group that sets it
 * wins) < the user's own policy. Inactive policies are ignored. `groups` unknown (undefined) means no
 * group policy applies; callers that must not guess use fieldsDecidedWithoutGroups() first. Only the
 * sections present in `base` are computed. `baseExplain` names where base values came from.
 */
export function effectivePolicy<K extends PolicySection>(
  policies: Iterable<PolicyRecord | Versioned>,
  who: { sAMAccountName?: string; groups?: readonly string[] },
  base: Pick<BaselineSettings, K>,
  baseExplain: Record<string, PolicySourceRef> = {},
): EffectivePolicy<K> {
  const live = [...policies].map(unwrap).filter((p) => p.record.active);
  const user = who.sAMAccountName?.toLowerCase();
  const layers = [
    ...live.filter((p) => p.record.kind === 'default'),
    ...live
      .filter(
        (p) =>
          p.record.kind === 'group' && (who.groups ?? []).some((g) => groupMatches(p.record.group ?? '', g)),
      )
      .sort(
        (a, b) =>
          (a.record.priority ?? 0) - (b.record.priority ?? 0) ||
          a.record.policyId.localeCompare(b.record.policyId),
      ),
    ...live.filter(
      (p) => p.record.kind === 'user' && user !== undefined && p.record.user?.toLowerCase() === user,
    ),
  ];
  const settings = structuredClone(base) as Record<string, Record<string, unknown>>;
  const explain: Record<string, PolicySourceRef> = {};
  for (const [section, fields] of Object.entries(settings)) {
    for (const field of Object.keys(fields)) {
      const path = `${section}.${field}`;
      explain[path] = baseExplain[path] ?? {
        kind: 'baseline',
        service: BASELINE_OWNER[section as PolicySection],
      };
    }
  }
  const applied: PolicySourceRef[] = [];
  for (const { record, revision } of layers) {
    const ref: PolicySourceRef = {
      kind: record.kind,
      policyId: record.policyId,
      name: record.name,
      ...(revision !== undefined ? { revision } : {}),
    };
    applied.push(ref);
    for (const [section, fields] of Object.entries(record.settings)) {
      for (const [field, value] of Object.entries(fields ?? {})) {
        if (value === undefined || settings[section] === undefined) continue;
        settings[section][field] = value;
        explain[`${section}.${field}`] = ref;
      }
    }
  }
  return { settings: settings as unknown as Pick<BaselineSettings, K>, explain, applied };
}

/**
 * The fields ("activeDirectory.checkUserStatus") whose effective value for this user does not depend on
 * the user's groups: the user's own policy sets them, or no active group policy does. Without a
 * sAMAccountName (a lookup by UPN) the user's own policy is unknown too, so only fields that no group
 * or user policy sets count as decided.
 */
export function fieldsDecidedWithoutGroups(
  policies: Iterable<PolicyRecord | Versioned>,
  who: { sAMAccountName?: string },
  fields: readonly string[],
): Set<string> {
  const live = [...policies].map(unwrap).filter((p) => p.record.active);
  const sets = (r: PolicyRecord, path: string): boolean => {
    const [section, field] = path.split('.');
    return (
      (r.settings as Record<string, Record<string, unknown> | undefined>)[section]?.[field] !== undefined
    );
  };
  const user = who.sAMAccountName?.toLowerCase();
  const own = live.find(
    (p) => p.record.kind === 'user' && user !== undefined && p.record.user?.toLowerCase() === user,
  );
  const decided = new Set<string>();
  for (const path of fields) {
    if (own && sets(own.record, path)) decided.add(path);
    else if (
      !live.some(
        (p) =>
          (p.record.kind === 'group' || (user === undefined && p.record.kind === 'user')) &&
          sets(p.record, path),
      )
    ) {
      decided.add(path);
    }
  }
  return decided;
}

/** The combined baseline the policy service explains with, from what the replicas published. */
export interface ReportedBaseline {
  settings: BaselineSettings;
  explain: Record<string, PolicySourceRef>;
  /** Services no replica of which has reported: their fields hold `fallback` (configuration defaults). */
  missing: BaselineService[];
  /** Fields on which live replicas of one service disagree, with each instance's value. */
  conflicts: Array<{ field: string; values: Array<{ instance: string; value: unknown }> }>;
}

/**
 * Combines the replicas' baselines: per service, the replicas seen within BASELINE_STALE_MS (or, if
 * none, the most recent one); the newest report wins a field, and disagreements are listed.
 */
export function combineBaselines(
  reports: Iterable<ServiceBaseline>,
  fallback: BaselineSettings,
  now: number = Date.now(),
): ReportedBaseline {
  const settings = structuredClone(fallback) as Record<string, Record<string, unknown>>;
  const explain: Record<string, PolicySourceRef> = {};
  const missing: BaselineService[] = [];
  const conflicts: ReportedBaseline['conflicts'] = [];
  const all = [...reports].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  for (const service of BaselineService.options) {
    const mine = all.filter((r) => r.service === service);
    const live = mine.filter((r) => now - Date.parse(r.at) <= BASELINE_STALE_MS);
    const use = live.length > 0 ? live : mine.slice(-1);
    if (use.length === 0) missing.push(service);
    for (const [section, owner] of Object.entries(BASELINE_OWNER)) {
      if (owner !== service) continue;
      for (const field of Object.keys(settings[section])) {
        const path = `${section}.${field}`;
        const values = use
          .map((r) => ({
            instance: r.instance,
            key: r.keys[path],
            value: (r.settings as Record<string, Record<string, unknown> | undefined>)[section]?.[field],
          }))
          .filter((v) => v.value !== undefined);
        const newest = values.at(-1);
        if (newest === undefined) {
          explain[path] = { kind: 'baseline', service, reported: false };
          continue;
        }
        settings[section][field] = newest.value;
        explain[path] = {
          kind: 'baseline',
          service,
          ...(newest.key ? { key: newest.key } : {}),
          reported: true,
        };
        if (values.some((v) => v.value !== newest.value)) {
          conflicts.push({ field: path, values: values.map(({ instance, value }) => ({ instance, value })) });
        }
      }
    }
  }
  return { settings: settings as unknown as BaselineSettings, explain, missing, conflicts };
}
