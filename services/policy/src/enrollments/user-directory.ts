import { UserStatusGet, type StatusAnswer } from '@tapgate/contracts';
import { RequestError, type Messaging } from '@tapgate/messaging';

export type UserLookup =
  | { found: true; sAMAccountName: string; dn: string; displayName?: string; groups?: string[] }
  | { found: false; reason: 'not_found' }
  | { found: false; reason: 'unavailable'; why: string };

/**
 * Asks user-status whether an AD user exists before a band is enrolled to them. Anything but a clear
 * answer with the user's DN is "unavailable", so a missing or confused user-status never vouches for a user.
 */
export class UserDirectory {
  constructor(private readonly messaging: Messaging) {}

  async lookup(sAMAccountName: string): Promise<UserLookup> {
    let answer: StatusAnswer;
    try {
      answer = await this.messaging.request(UserStatusGet, { v: 1, user: { sAMAccountName } });
    } catch (e) {
      if (e instanceof RequestError) return { found: false, reason: 'unavailable', why: e.kind };
      throw e;
    }
    switch (answer.status) {
      case 'not_found':
        return { found: false, reason: 'not_found' };
      case 'unavailable':
      case 'not_configured':
        return { found: false, reason: 'unavailable', why: answer.status };
      case 'active':
      case 'disabled':
      case 'locked_out':
      case 'password_expired':
      case 'must_change_password':
      case 'account_expired': {
        // The account exists; whether it may sign in is decided per tap, not at enrollment.
        const user = answer.user;
        if (!user?.dn || user.sAMAccountName.toLowerCase() !== sAMAccountName.toLowerCase()) {
          return { found: false, reason: 'unavailable', why: 'answer without the matching user and DN' };
        }
        return {
          found: true,
          sAMAccountName: user.sAMAccountName,
          dn: user.dn,
          displayName: user.displayName,
          groups: answer.groups,
        };
      }
    }
  }

  /**
   * The user's groups as user-status reads them (direct, nested, primary), for explaining policies:
   * also from a not_configured answer, which carries the groups it was judged with when it read them.
   */
  async groupsOf(sAMAccountName: string): Promise<{ groups: string[]; from: string }> {
    let answer: StatusAnswer;
    try {
      answer = await this.messaging.request(UserStatusGet, { v: 1, user: { sAMAccountName } });
    } catch (e) {
      if (e instanceof RequestError) return { groups: [], from: `none (user-status: ${e.kind})` };
      throw e;
    }
    if (answer.groups === undefined) return { groups: [], from: `none (user-status: ${answer.status})` };
    return { groups: answer.groups, from: 'user-status' };
  }
}
