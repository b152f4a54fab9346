import { ConfigError, type AgentConfig } from '@tapgate/config';

/** What the policy service takes from [policy], checked once at start-up. */
export interface PolicySettings {
  /** Stopgap administrator token (admin login replaces it). Never logged. */
  adminToken: string;
  /** The actor name recorded on changes made with the token. */
  adminName: string;
  /** Enroll even when user-status cannot confirm the user exists (demo only). */
  allowUnverifiedEnrollment: boolean;
}

export const POLICY_SETTINGS = Symbol('POLICY_SETTINGS');

/** The sections of nymi_agent.toml the policy service reads. */
export const POLICY_CONFIG_SECTIONS = ['nats', 'http', 'telemetry', 'policy'] as const;
export type PolicyConfig = AgentConfig<(typeof POLICY_CONFIG_SECTIONS)[number]>;

export function policySettings(config: AgentConfig<'policy'>): PolicySettings {
  const p = config.policy;
  if (p.adminToken === undefined) {
    const problem = 'required by the policy service: a file holding the administrator token';
    throw config.file
      ? new ConfigError({ file: config.file, key: '[policy].admin_token_file', problem })
      : new ConfigError({ key: 'TAPGATE_POLICY_ADMIN_TOKEN_FILE', problem });
  }
  return {
    adminToken: p.adminToken,
    adminName: p.adminName,
    allowUnverifiedEnrollment: p.allowUnverifiedEnrollment,
  };
}
