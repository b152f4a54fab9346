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

/** The guide's defaults: check on, cache on, 15 minutes; taps by signed proof; distinct second signer. */
export const BUILT_IN_POLICY: PolicySettings = {
  activeDirectory: { checkUserStatus: true, cacheUserStatus: true, cacheExpirySeconds: 900 },
  tap: { allowBleTaps: true, allowUidTaps: false, requirePresence: false },
  esign: { secondSignerMustDiffer: true, ceremonyTimeoutSeconds: 120 },
};

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

/** Where an effective value came from. */
export type PolicySourceRef =
  { kind: 'built-in' } | { kind: PolicyKind; policyId: string; name: string; revision?: number };

export interface EffectivePolicy {
  settings: PolicySettings;
  /** Per field ("tap.requirePresence"), which policy set it. */
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

/**
 * The effective policy of one user: base (built-in defaults, or a service's configured fallback) <
 * the default policy < group policies of the user's AD groups (by priority, then id) < the user's own
 * policy. Inactive policies are ignored. `groups` unknown (undefined) means no group policy applies.
 */
export function effectivePolicy(
  policies: Iterable<PolicyRecord | Versioned>,
  who: { sAMAccountName?: string; groups?: readonly string[] },
  base: PolicySettings = BUILT_IN_POLICY,
): EffectivePolicy {
  const all = [...policies].map((p) => ('record' in p ? p : { record: p, revision: undefined }));
  const live = all.filter((p) => p.record.active);
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
  for (const [section, fields] of Object.entries(base)) {
    for (const field of Object.keys(fields)) explain[`${section}.${field}`] = { kind: 'built-in' };
  }
  const applied: PolicySourceRef[] = [];
  for (const { record, revision } of layers) {
    const ref: PolicySourceRef = {
      kind: record.kind,
      policyId: record.policyId,
      name: record.name,
      revision,
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
  return { settings: settings as unknown as PolicySettings, explain, applied };
}
