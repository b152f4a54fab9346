import { ConfigError, type AgentConfig } from '@tapgate/config';

/** The Active Directory administrators log in against (the [ldap] section). */
export interface AdminDirectorySettings {
  url: string;
  baseDn: string;
  /** Service account used to find the user's DN and groups. Secret: never logged. */
  bind: { dn: string; password: string };
  ca?: string;
  startTls: boolean;
  timeoutMs: number;
}

/** What the policy service takes from [policy] and [ldap], checked once at start-up. */
export interface PolicySettings {
  /** Break-glass administrator token; undefined = off (the default). Never logged. */
  adminToken?: string;
  /** The actor name recorded on changes made with the break-glass token. */
  adminName: string;
  /** Enroll even when user-status cannot confirm the user exists (demo only). */
  allowUnverifiedEnrollment: boolean;
  /** Administrator login (LDAP bind + group); undefined when [ldap].url is unset. */
  directory?: AdminDirectorySettings;
  adminGroup: string;
  viewerGroup?: string;
  sessionTtlMs: number;
  loginMaxFailures: number;
  /** The one-time bootstrap administrator code: where it is written and how long it lives; undefined = off. */
  bootstrapAdmin?: { file: string; ttlMs: number };
}

export const POLICY_SETTINGS = Symbol('POLICY_SETTINGS');

/** The sections of nymi_agent.toml the policy service reads. */
export const POLICY_CONFIG_SECTIONS = ['nats', 'http', 'telemetry', 'policy', 'ldap'] as const;
export type PolicyConfig = AgentConfig<(typeof POLICY_CONFIG_SECTIONS)[number]>;

export function policySettings(config: AgentConfig<'policy' | 'ldap'>): PolicySettings {
  const p = config.policy;
  const l = config.ldap;
  const directory =
    l.url && l.baseDn && l.bind
      ? {
          url: l.url,
          baseDn: l.baseDn,
          bind: l.bind,
          ca: l.ca,
          startTls: l.startTls,
          timeoutMs: l.timeoutMs,
        }
      : undefined;
  if (p.adminToken === undefined && directory === undefined && p.bootstrapAdminFile === undefined) {
    const problem =
      'required unless [ldap] is configured for administrator login or bootstrap_admin_file is set: otherwise nobody could administer the policy service';
    throw config.file
      ? new ConfigError({ file: config.file, key: '[policy].admin_token_file', problem })
      : new ConfigError({ key: 'TAPGATE_POLICY_ADMIN_TOKEN_FILE', problem });
  }
  return {
    adminToken: p.adminToken,
    adminName: p.adminName,
    allowUnverifiedEnrollment: p.allowUnverifiedEnrollment,
    directory,
    adminGroup: p.adminGroup,
    viewerGroup: p.viewerGroup,
    sessionTtlMs: p.sessionTtlMinutes * 60_000,
    loginMaxFailures: p.loginMaxFailures,
    ...(p.bootstrapAdminFile
      ? { bootstrapAdmin: { file: p.bootstrapAdminFile, ttlMs: p.bootstrapAdminMinutes * 60_000 } }
      : {}),
  };
}
