import { Injectable } from '@nestjs/common';
import { AuditTrail } from '@tapgate/audit';
import { AuditRecord, EnrollmentRecord, StatusAnswer } from '@tapgate/contracts';
import { z } from 'zod';
import { ApiError } from '../common/api-error';
import { view } from '../common/versioned-response';
import { viewSchema } from '../common/zod-openapi';
import { EnrollmentsService } from '../enrollments/enrollments.service';
import { UserDirectory } from '../enrollments/user-directory';
import { PoliciesService } from '../policies/policies.service';
import { DirectorySearch, DirectoryUserDetails, type DirectorySearchResult } from './directory-search';

/** How far back "recent taps and e-signatures" reach, and how many are shown (newest first). */
export const RECENT_ACTIVITY_DAYS = 30;
export const RECENT_ACTIVITY_MAX = 20;

/** The user's directory entry, or why there is none. */
export const DirectorySection = z.discriminatedUnion('state', [
  DirectoryUserDetails.extend({ state: z.literal('found') }),
  z.object({ state: z.literal('not_found') }).strict(),
  z.object({ state: z.enum(['not_configured', 'unavailable']), message: z.string() }).strict(),
]);
export type DirectorySection = z.infer<typeof DirectorySection>;

/** user-status's answer for the user (what a tap is judged with now), with how old it is. */
export const AdStatusSection = z.union([
  StatusAnswer.pick({ status: true, evidence: true, source: true, checkedAt: true, message: true }).extend({
    ageSeconds: z
      .number()
      .int()
      .nonnegative()
      .describe("seconds since the directory was read for this answer (a cached answer's age)"),
  }),
  z
    .object({ status: z.literal('unavailable'), message: z.string() })
    .strict()
    .describe('user-status did not answer'),
]);
export type AdStatusSection = z.infer<typeof AdStatusSection>;

export const ActivitySection = z
  .object({
    items: z
      .array(z.object({ seq: z.number().int().positive(), record: AuditRecord }).strict())
      .describe('login and e-signature records naming the user, newest first, from the audit trail'),
    since: z.string(),
    truncated: z.boolean().describe('more records matched than were kept'),
    message: z.string().optional().describe('why the audit trail could not be read'),
  })
  .strict();
export type ActivitySection = z.infer<typeof ActivitySection>;

type EffectiveOfUser = Awaited<ReturnType<PoliciesService['effective']>>;

/** `GET /v1/users/{user}`: each section read on its own. */
export const UserDetails = z
  .object({
    user: z.string(),
    directory: DirectorySection,
    adStatus: AdStatusSection,
    bands: z.array(viewSchema(EnrollmentRecord)),
    // The effective policy's shape is a TypeScript interface in libs/contracts (no zod schema to derive from).
    effectivePolicy: z.custom<EffectiveOfUser>().describe('as GET /v1/policies/effective?user='),
    activity: ActivitySection,
  })
  .strict();
export type UserDetails = z.infer<typeof UserDetails>;

const sameUser = (a: string | undefined, b: string) => a !== undefined && a.toLowerCase() === b.toLowerCase();

/** The Users page: directory search and one user's bands, policy, AD status and recent activity. */
@Injectable()
export class UsersService {
  constructor(
    private readonly search: DirectorySearch,
    private readonly statuses: UserDirectory,
    private readonly enrollments: EnrollmentsService,
    private readonly policies: PoliciesService,
    private readonly trail: AuditTrail,
  ) {}

  find(prefix: string, limit: number): Promise<DirectorySearchResult> {
    return this.search.search(prefix, limit);
  }

  /** Each section is read on its own: one source being down shows as that section's message. */
  async details(user: string): Promise<UserDetails> {
    const [directory, status, bands, activity] = await Promise.all([
      this.directory(user),
      this.statuses.status(user),
      this.enrollments.list({ user }),
      this.activity(user),
    ]);
    // The groups group policies are matched with are user-status's (as for a tap): the same explain path.
    const effectivePolicy = await this.policies.effective(
      user,
      'status' in status && status.groups !== undefined ? status.groups : undefined,
      'user-status',
    );
    return { user, directory, adStatus: adStatus(status), bands: bands.map(view), effectivePolicy, activity };
  }

  private async directory(user: string): Promise<DirectorySection> {
    try {
      const found = await this.search.user(user);
      return found ? { state: 'found', ...found } : { state: 'not_found' };
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      return {
        state: e.code === 'directory_not_configured' ? 'not_configured' : 'unavailable',
        message: e.message,
      };
    }
  }

  private async activity(user: string): Promise<ActivitySection> {
    const since = new Date(Date.now() - RECENT_ACTIVITY_DAYS * 86_400_000);
    const items: ActivitySection['items'] = [];
    let matched = 0;
    try {
      // A minute ahead: a record stamped by a gateway whose clock runs slightly fast still shows.
      for await (const e of this.trail.records({ from: since, to: new Date(Date.now() + 60_000) })) {
        if (!('record' in e)) continue;
        const r = e.record;
        if (!sameUser(r.user?.sAMAccountName ?? r.decision?.user?.sAMAccountName, user)) continue;
        matched += 1;
        items.push(e);
        if (items.length > RECENT_ACTIVITY_MAX) items.shift();
      }
    } catch (e) {
      return {
        items: [],
        since: since.toISOString(),
        truncated: false,
        message: `the audit trail could not be read: ${(e as Error).message}`,
      };
    }
    return { items: items.reverse(), since: since.toISOString(), truncated: matched > items.length };
  }
}

function adStatus(a: StatusAnswer | { unavailable: string }): AdStatusSection {
  if ('unavailable' in a) {
    return { status: 'unavailable', message: `user-status did not answer (${a.unavailable})` };
  }
  return {
    status: a.status,
    evidence: a.evidence,
    source: a.source,
    checkedAt: a.checkedAt,
    ...(a.message !== undefined ? { message: a.message } : {}),
    ageSeconds: Math.max(0, Math.round((Date.now() - Date.parse(a.checkedAt)) / 1000)),
  };
}
