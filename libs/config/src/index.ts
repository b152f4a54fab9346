export { gatewayBaseline, userStatusBaseline, type BaselineOf } from './baseline';
export { ConfigError } from './errors';
export { loadAgentConfig, type LoadAgentOptions } from './load-agent';
export {
  loadEndpointConfig,
  DEFAULT_NBE_PATH,
  LEGACY_MODE_VARIABLE,
  type EndpointConfig,
} from './load-endpoint';
export { loadOrExit } from './exit';
export { redactConfig } from './redact';
export { AGENT_SECTIONS, type AgentConfig, type AgentSectionName } from './registry';
export type { TlsMaterial } from './pem';
export {
  TLS12_SUITES,
  TLS13_SUITES,
  TLS_ECDH_CURVES,
  TLS_SERVER_POLICY,
  tlsServerOptions,
} from './tls-server';
export type { AgentSettings } from './sections/agent';
export type { AssertionsSettings, SigningKeySource } from './sections/assertions';
export { AUDIT_SPOOL_MAX_RECORDS, type AuditSettings } from './sections/audit';
export type { GatewaySettings } from './sections/gateway';
export type { HttpSettings } from './sections/http';
export type { LdapSettings } from './sections/ldap';
export type { ListenerSettings, LogLevel } from './sections/listener';
export type { NatsSettings } from './sections/nats';
export type { EndpointDriver, EndpointSettings } from './sections/nbe';
export type { NesSettings } from './sections/nes';
export type { PolicySectionSettings } from './sections/policy';
export type { PresenceSectionSettings } from './sections/presence';
export type { RedisSentinelSettings, RedisSettings, SentinelAddress } from './sections/redis';
export type { TelemetrySettings } from './sections/telemetry';
export type { UserStatusSettings } from './sections/user-status';
export type { WebApiSettings } from './sections/webapi';
// For section files added by services (src/sections/*.ts): see registry.ts.
export { defineSection, type Section, type SectionContext } from './section';
export * as fields from './fields';
