import { SAMBA_USER_PASSWORD, createGroupMember, type SambaAd } from '@tapgate/testing';

export interface ConsoleAdmin {
  sAMAccountName: string;
  password: string;
  groupDn: string;
}

/**
 * Creates an AD group and a user who is a direct member of it: the account the console tests log in
 * with. Seeded users (alice, ...) stay outside the group.
 */
export async function createConsoleAdmin(
  samba: SambaAd,
  group: string,
  sAMAccountName: string,
): Promise<ConsoleAdmin> {
  const groupDn = await createGroupMember(samba, group, sAMAccountName);
  return { sAMAccountName, password: SAMBA_USER_PASSWORD, groupDn };
}
