import { boolean, integer, optionalPath, optionalText, optionalUrl } from '../fields';
import { readCaBundle } from '../pem';
import { defineSection } from '../section';
import { defined } from '../util';

export interface LdapSettings {
  /** ldap:// or ldaps://; unset when no directory is configured. */
  url?: string;
  baseDn?: string;
  /** The service account: DN or userPrincipalName, and the password read from bind_password_file. */
  bind?: { dn: string; /** Secret: never log it. */ password: string };
  /** PEM CA bundle read from ca_file. */
  ca?: string;
  startTls: boolean;
  allowInsecure: boolean;
  connectTimeoutMs: number;
  timeoutMs: number;
  poolSize: number;
}

/** [ldap]: the Active Directory user-status reads account states from. */
export const ldapSection = defineSection({
  name: 'ldap',
  summary: 'the Active Directory (LDAP) that user-status reads account states from',
  fields: {
    url: optionalUrl(['ldap', 'ldaps']),
    base_dn: optionalText({ expects: 'a DN such as "DC=corp,DC=example"' }),
    bind_dn: optionalText({ expects: 'a DN or userPrincipalName' }),
    bind_password_file: optionalPath(),
    ca_file: optionalPath(),
    start_tls: boolean(false),
    allow_insecure: boolean(false),
    connect_timeout_ms: integer({ default: 2000, min: 1, max: 60_000 }),
    timeout_ms: integer({ default: 2000, min: 1, max: 60_000 }),
    pool_size: integer({ default: 4, min: 1, max: 64 }),
  },
  build(v, at): LdapSettings {
    const base = {
      startTls: v.start_tls,
      allowInsecure: v.allow_insecure,
      connectTimeoutMs: v.connect_timeout_ms,
      timeoutMs: v.timeout_ms,
      poolSize: v.pool_size,
    };
    if (v.url === undefined) return base;
    const required = (key: 'base_dn' | 'bind_dn' | 'bind_password_file') =>
      at.error(key, 'required when [ldap].url is set', 'url');
    if (v.base_dn === undefined) throw required('base_dn');
    if (v.bind_dn === undefined) throw required('bind_dn');
    if (v.bind_password_file === undefined) throw required('bind_password_file');
    const secure = v.url.startsWith('ldaps://');
    if (secure && v.start_tls) {
      throw at.error('start_tls', 'cannot be used with an ldaps:// url (already TLS)');
    }
    // A simple bind over plain ldap:// sends the service account's password in clear text.
    if (!secure && !v.start_tls && !v.allow_insecure) {
      throw at.error(
        'url',
        'ldap:// without start_tls sends the bind password in clear text: use ldaps://, set start_tls = true, or allow_insecure = true',
      );
    }
    return defined({
      ...base,
      url: v.url,
      baseDn: v.base_dn,
      bind: { dn: v.bind_dn, password: at.readSecret('bind_password_file', v.bind_password_file) },
      ca: v.ca_file === undefined ? undefined : readCaBundle(at, 'ca_file', v.ca_file),
    });
  },
});
