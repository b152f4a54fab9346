import { Injectable } from '@nestjs/common';
import { AuditTrail } from '@tapgate/audit';
import type { AuditRecord, EnrollmentRecord, StatusAnswer } from '@tapgate/contracts';
import { ApiError } from '../common/api-error';
import { view, type View } from '../common/versioned-response';
import { EnrollmentsService } from '../enrollments/enrollments.service';
import { UserDirectory } from '../enrollments/user-directory';
import { PoliciesService } from '../policies/policies.service';
import { DirectorySearch, type DirectorySearchResult, type DirectoryUserDetails } from './directory-search';

/** How far back "recent taps and e-signatures" reach, and how many are shown (newest first). */
export const RECENT_ACTIVITY_DAYS = 30;
export const RECENT_ACTIVITY_MAX = 20;

/** The user's directory entry, or why there is none. */
export type DirectorySection =
  | ({ state: 'found' } & DirectoryUserDetails)
  | { state: 'not_found' }
  | { state: 'not_configured' | 'unavailable'; message: string };

/** user-status's answer for the user (what a tap is judged with now), with how old it is. */
export type AdStatusSection =
  | (Pick<StatusAnswer, 'status' | 'evidence' | 'source' | 'checkedAt' | 'message'> & {
      /** Seconds since the directory was read for this answer (a cached answer's age). */
      ageSeconds: number;
    })
  | { status: 'unavailable'; message: string };

export interface ActivitySection {
  /** Login and e-signature records naming the user, newest first, from the audit trail. */
  items: Array<{ seq: number; record: AuditRecord }>;
  since: string;
  /** More records matched than were kept. */
  truncated: boolean;
  /** Set when the audit trail could not be read. */
  message?: string;
}

export interface UserDetails {
  user: string;
  directory: DirectorySection;
  adStatus: AdStatusSection;
  bands: Array<View<EnrollmentRecord>>;
  effectivePolicy: Awaited<ReturnType<PoliciesService['effective']>>;
  activity: ActivitySection;
}

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
