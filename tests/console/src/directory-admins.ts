import { SAMBA_USER_PASSWORD, type SambaAd } from '@tapgate/testing';
import { Attribute, Change } from 'ldapts';

export interface ConsoleAdmin {
  sAMAccountName: string;
  password: string;
  groupDn: string;
}

/**
 * Creates an AD group and a user who is a direct member of it, over LDAPS as Administrator: the account
 * the console tests log in with. Seeded users (alice, ...) stay outside the group.
 */
export async function createConsoleAdmin(
  samba: SambaAd,
  group: string,
  sAMAccountName: string,
): Promise<ConsoleAdmin> {
  const userDn = await samba.createUser(sAMAccountName, { displayName: 'Tapgate Console Admin' });
  const groupDn = `CN=${group},${samba.usersDn}`;
  await samba.asAdmin(async (c) => {
    await c.add(groupDn, [
      new Attribute({ type: 'objectClass', values: ['top', 'group'] }),
      new Attribute({ type: 'sAMAccountName', values: [group] }),
    ]);
    await c.modify(
      groupDn,
      new Change({ operation: 'add', modification: new Attribute({ type: 'member', values: [userDn] }) }),
    );
  });
  return { sAMAccountName, password: SAMBA_USER_PASSWORD, groupDn };
}
