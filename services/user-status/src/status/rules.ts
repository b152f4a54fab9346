import type { UserStatus } from '@tapgate/contracts';
import { FILETIME_NEVER, dateToFileTime, parseAdInteger } from './filetime';

/** Attribute names, spelled as AD spells them (they are also the evidence keys). */
export const ATTR = {
  userAccountControl: 'userAccountControl',
  computed: 'msDS-User-Account-Control-Computed',
  pwdLastSet: 'pwdLastSet',
  accountExpires: 'accountExpires',
} as const;

export const UAC_ACCOUNTDISABLE = 0x2;
export const UAC_LOCKOUT = 0x10;
export const UAC_PASSWORD_EXPIRED = 0x80_0000;

/** What the rules can conclude from a directory entry. */
export type RuleStatus = Extract<
  UserStatus,
  | 'active'
  | 'disabled'
  | 'locked_out'
  | 'password_expired'
  | 'must_change_password'
  | 'account_expired'
  | 'unavailable'
>;

export interface RuleOutcome {
  status: RuleStatus;
  /** Set when the entry could not be judged (status `unavailable`): which attribute was unusable. */
  problem?: string;
}

/**
 * The account states in the order they win when several apply:
 *
 * 1. disabled             an administrator switched the account off;
 * 2. account_expired      the account's end date passed (also an administrative decision);
 * 3. locked_out           too many bad passwords; clears by itself after the lockout duration;
 * 4. must_change_password pwdLastSet = 0. AD also sets the computed 0x800000 for such accounts, so
 *                         this must come before password_expired or it could never be seen;
 * 5. password_expired     the password is older than the maximum age.
 *
 * Administrative states come first because the user cannot fix them and the helpdesk must see them
 * first; the self-service password states come last.
 */
export const STATUS_PRECEDENCE: readonly RuleStatus[] = [
  'disabled',
  'account_expired',
  'locked_out',
  'must_change_password',
  'password_expired',
];

type Attributes = Readonly<Record<string, string | undefined>>;

/**
 * Judges an account from its attributes. Rules are checked in precedence order; an attribute that a
 * rule needs and that is missing or malformed makes the outcome `unavailable` (never `active`), unless
 * an earlier rule already refused the account, which is safe to report.
 */
export function statusFromAttributes(attrs: Attributes, now: Date): RuleOutcome {
  const unusable = (name: string): RuleOutcome => ({
    status: 'unavailable',
    problem: `directory entry has no valid ${name}`,
  });

  const uac = parseAdInteger(attrs[ATTR.userAccountControl]);
  if (uac === undefined) return unusable(ATTR.userAccountControl);
  if ((Number(uac) & UAC_ACCOUNTDISABLE) !== 0) return { status: 'disabled' };

  const expires = parseAdInteger(attrs[ATTR.accountExpires]);
  if (expires === undefined || expires < 0n || expires > FILETIME_NEVER) return unusable(ATTR.accountExpires);
  if (expires !== 0n && expires !== FILETIME_NEVER && expires <= dateToFileTime(now)) {
    return { status: 'account_expired' };
  }

  const computed = parseAdInteger(attrs[ATTR.computed]);
  if (computed === undefined) return unusable(ATTR.computed);
  if ((Number(computed) & UAC_LOCKOUT) !== 0) return { status: 'locked_out' };

  const pwdLastSet = parseAdInteger(attrs[ATTR.pwdLastSet]);
  if (pwdLastSet === undefined || pwdLastSet < 0n) return unusable(ATTR.pwdLastSet);
  if (pwdLastSet === 0n) return { status: 'must_change_password' };

  if ((Number(computed) & UAC_PASSWORD_EXPIRED) !== 0) return { status: 'password_expired' };
  return { status: 'active' };
}
