import type { AgentConfig } from '@tapgate/config';

// Not 'agent': building it would load the gateway's TLS files; the log level comes as config.logLevel.
// A module of its own so main.ts can load the config before telemetry starts and the app is imported.
export const CONFIG_SECTIONS = ['nats', 'redis', 'http', 'ldap', 'userStatus', 'telemetry'] as const;
export type UserStatusConfig = AgentConfig<(typeof CONFIG_SECTIONS)[number]>;
