import { UserStatusGet, type EnrollmentRecord, type StatusAnswer } from '@tapgate/contracts';
import { RequestError, type Messaging } from '@tapgate/messaging';

/** A directory account as an enrollment binds to it. */
export interface DirectoryAccount {
  sAMAccountName: string;
  dn: string;
  displayName?: string;
  groups?: string[];
  /** Absent only when user-status answered without it (an older user-status). */
  objectGUID?: string;
  objectSid?: string;
}

export type UserLookup =
  | ({ found: true } & DirectoryAccount)
  | { found: false; reason: 'not_found' }
  | { found: false; reason: 'unavailable'; why: string };

/**
 * How an enrollment's account stands in the directory now (the console shows it and offers the fix):
 * `bound` as enrolled; `renamed` (same object, other name or DN: update); `gone` (the object was
 * deleted: re-enroll); `identity_changed` (the enrolled name is now another object's: re-enroll);
 * `unbound` (an enrollment made before objectGUIDs were recorded: bind it); `unknown` (user-status
 * could not say).
 */
export type BindingState =
  | { state: 'bound' | 'renamed'; current: DirectoryAccount }
  | { state: 'gone' | 'identity_changed' | 'unbound' }
  | { state: 'unknown'; why: string };

/** The account in a status answer, when the answer names an existing account with its identity. */
function account(answer: StatusAnswer): DirectoryAccount | undefined {
  const user = answer.user;
  const id = answer.directoryObject;
  if (!user?.dn) return undefined;
  return {
    sAMAccountName: user.sAMAccountName,
    dn: user.dn,
    ...(user.displayName !== undefined ? { displayName: user.displayName } : {}),
    ...(answer.groups ? { groups: answer.groups } : {}),
    ...(id ? { objectGUID: id.objectGUID } : {}),
    ...(id?.objectSid ? { objectSid: id.objectSid } : {}),
  };
}

/** Whether the status says the account exists (whether it may sign in is decided per tap). */
function exists(status: StatusAnswer['status']): boolean | undefined {
  switch (status) {
    case 'active':
    case 'disabled':
    case 'locked_out':
    case 'password_expired':
    case 'must_change_password':
    case 'account_expired':
      return true;
    case 'not_found':
    case 'identity_changed':
      return false;
    case 'unavailable':
    case 'not_configured':
      return undefined;
  }
}

/**
 * Asks user-status about AD users for enrollments. Anything but a clear answer with the user's DN and
 * objectGUID is "unavailable", so a missing or confused user-status never vouches for a user.
 */
export class UserDirectory {
  constructor(private readonly messaging: Messaging) {}

  private async ask(sAMAccountName: string, objectGUID?: string): Promise<StatusAnswer | RequestError> {
    try {
      return await this.messaging.request(UserStatusGet, {
        v: 1,
        user: { sAMAccountName },
        ...(objectGUID ? { objectGUID } : {}),
      });
    } catch (e) {
      if (e instanceof RequestError) return e;
      throw e;
    }
  }

  /** user-status's whole answer (status, evidence, cache age, groups), or why there is none. */
  async status(sAMAccountName: string): Promise<StatusAnswer | { unavailable: string }> {
    const answer = await this.ask(sAMAccountName);
    return answer instanceof RequestError ? { unavailable: answer.kind } : answer;
  }

  async lookup(sAMAccountName: string): Promise<UserLookup> {
    const answer = await this.ask(sAMAccountName);
    if (answer instanceof RequestError) return { found: false, reason: 'unavailable', why: answer.kind };
    const found = exists(answer.status);
    if (found === undefined) return { found: false, reason: 'unavailable', why: answer.status };
    if (!found) return { found: false, reason: 'not_found' };
    const current = account(answer);
    if (!current || current.sAMAccountName.toLowerCase() !== sAMAccountName.toLowerCase()) {
      return {
        found: false,
        reason: 'unavailable',
        why: 'answer without the matching user and DN',
      };
    }
    return { found: true, ...current };
  }

  /** Where the enrollment's directory object stands now (see BindingState). */
  async binding(user: EnrollmentRecord['user']): Promise<BindingState> {
    if (!user.objectGUID) return { state: 'unbound' };
    const answer = await this.ask(user.sAMAccountName, user.objectGUID);
    if (answer instanceof RequestError) return { state: 'unknown', why: answer.kind };
    if (answer.status === 'identity_changed') return { state: 'identity_changed' };
    const found = exists(answer.status);
    if (found === undefined) return { state: 'unknown', why: answer.status };
    if (!found) return { state: 'gone' };
    const current = account(answer);
    if (!current || current.objectGUID !== user.objectGUID) {
      return { state: 'unknown', why: 'answer without the bound object' };
    }
    const same =
      current.sAMAccountName.toLowerCase() === user.sAMAccountName.toLowerCase() && current.dn === user.dn;
    return { state: same ? 'bound' : 'renamed', current };
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
