// LDAP pieces shared by the services that talk to Active Directory (user-status, policy's admin login).
export {
  USER_SEARCH_ATTRIBUTES,
  boundUserFilter,
  equals,
  filterText,
  groupFilter,
  userFilter,
  userSearchFilter,
} from './filter';
export { guidFromBytes, guidToBytes, sidFromBytes } from './identity';
export {
  LdapTrustError,
  LdapUnreachableError,
  certificateNames,
  checkLdapBind,
  checkLdapTrust,
  type LdapTrustOptions,
} from './trust';
export { TOKEN_GROUPS, allGroupsOf, groupDnsBySid, tokenGroupSids } from './groups';
