import type { SectionContext, SectionKeys, SectionOutput } from './section';
import { agentSection } from './sections/agent';
import { assertionsSection } from './sections/assertions';
import { auditSection } from './sections/audit';
import { gatewaySection } from './sections/gateway';
import { httpSection } from './sections/http';
import { ldapSection } from './sections/ldap';
import { natsSection } from './sections/nats';
import { policySection } from './sections/policy';
import { presenceSection } from './sections/presence';
import { nesSection } from './sections/nes';
import { redisSection } from './sections/redis';
import { telemetrySection } from './sections/telemetry';
import { userStatusSection } from './sections/user-status';
import { webapiSection } from './sections/webapi';

/**
 * Every section of nymi_agent.toml, in the order they are validated. To add a section, e.g. [ldap]:
 *   1. write src/sections/ldap.ts exporting `ldapSection = defineSection({ name: 'ldap', summary, fields,
 *      build })` (see sections/redis.ts for a small example; fields come from ../fields);
 *   2. add one line below, `ldap: ldapSection,` where the property is the camelCase name in AgentConfig;
 *   3. document its keys in docs/configuration.md under "Sections added by services".
 * AgentConfig's type, the unknown-key checks and the TAPGATE_LDAP_<KEY> overrides all follow from this.
 */
export const AGENT_SECTIONS = {
  agent: agentSection,
  nes: nesSection,
  webapi: webapiSection,
  nats: natsSection,
  redis: redisSection,
  http: httpSection,
  telemetry: telemetrySection,
  gateway: gatewaySection,
  policy: policySection,
  ldap: ldapSection,
  userStatus: userStatusSection,
  presence: presenceSection,
  assertions: assertionsSection,
  audit: auditSection,
};

export type AgentSections = typeof AGENT_SECTIONS;
export type AgentSectionName = keyof AgentSections;
type Built = { [P in AgentSectionName]: SectionOutput<AgentSections[P]> };

/** The validated nymi_agent.toml (or the sections a service asked for), plus the file it came from. */
export type AgentConfig<K extends AgentSectionName = AgentSectionName> = {
  file?: string;
  /** [agent].log_level, available whatever sections were built. */
  logLevel: 'error' | 'warn' | 'info' | 'debug';
} & Pick<Built, K>;

export type SectionContexts = { [P in AgentSectionName]: SectionContext<SectionKeys<AgentSections[P]>> };

/**
 * Checks that span sections. Each runs only when all the sections it names were loaded, so a service
 * that loads just [nats] and [http] is not held to the gateway's rules.
 */
export interface CrossCheck<K extends AgentSectionName = AgentSectionName> {
  readonly sections: readonly K[];
  run(cfg: Pick<Built, K>, at: SectionContexts): void;
}

/**
 * Environment variables that start with TAPGATE_<SECTION>_ but are not config keys: the file paths,
 * and the test harness's server binaries (libs/testing).
 */
export const NOT_CONFIG_KEYS: ReadonlySet<string> = new Set([
  'TAPGATE_CONFIG',
  'TAPGATE_NBE_CONFIG',
  'TAPGATE_NATS_SERVER_BIN',
  'TAPGATE_REDIS_SERVER_BIN',
]);
