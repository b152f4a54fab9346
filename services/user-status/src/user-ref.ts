import { UserRef } from '@tapgate/contracts';

/**
 * Reads a user given as text (CLI argument, admin API): `name@realm` is a userPrincipalName, anything
 * else a sAMAccountName. Throws with the schema's reason when it is neither.
 */
export function parseUserArg(text: string): UserRef {
  const value = text.trim();
  const ref = value.includes('@') ? { userPrincipalName: value } : { sAMAccountName: value };
  const parsed = UserRef.safeParse(ref);
  if (!parsed.success) {
    throw new Error(`not a valid user name (${parsed.error.issues[0]?.message ?? 'invalid'})`);
  }
  return parsed.data;
}
