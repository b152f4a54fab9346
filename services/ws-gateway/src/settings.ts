import type { AuditSettings } from '@tapgate/config';
import type { MessagingOptions } from '@tapgate/messaging';
import type { SocketLimits } from './socket/connection';
import type { DrainTimings } from './socket/drain';
import type { ListenerSpec } from './socket/tapgate-ws.adapter';

/** What a tap needs besides a valid proof: the effective policy's tap section. */
export interface TapPolicy {
  /** Plain NFC badge UIDs (no signature) may identify a person. Off by default. */
  allowUidTaps: boolean;
  allowBleTaps: boolean;
  /** A tap succeeds only for a band presence reports authenticated; unknown presence refuses. */
  requirePresence: boolean;
}

/** Everything the gateway needs, derived once from the validated config at start-up. */
export interface GatewaySettings {
  gatewayId: string;
  listeners: { agent: ListenerSpec; webapi: ListenerSpec | undefined };
  http: { host: string; port: number };
  limits: SocketLimits;
  trustedProxies: string[];
  /** Browser origins allowed to connect; empty = any (endpoints send no Origin and are unaffected). */
  allowedOrigins: string[];
  /** Development only ([gateway] allow_unauthenticated_explicit_binding): explicit NEA binding without credentials. */
  allowUnauthenticatedExplicitBinding: boolean;
  nats: MessagingOptions;
  tapTimeoutMs: number;
  challengeTtlMs: number;
  requireEndpointCredentials: boolean;
  tapPolicy: TapPolicy;
  esignTimeoutMs: number;
  /** Assertion signing keys ([assertions]); none = login and e-signature are not offered. */
  assertions: { signingKeys: Array<{ file?: string; key: string }>; issuer: string; ttlSeconds: number };
  audit: AuditSettings;
  /** Graceful stop on SIGTERM ([gateway] drain_delay_ms, drain_spread_ms, drain_timeout_ms). */
  drain: DrainTimings;
}

/**
 * The bound on a decision's age, derived from `[gateway] tap_timeout_ms` (T): deciding may take up to T
 * (the services' timeout) and delivering up to T more, so the application's replica acts on a decision
 * only while it is younger than 2T since the endpoint's replica received the tap (clocks in NTP sync).
 * The endpoint's replica waits for the delivery until the decision is 2T + grace old, so an answer
 * given in time by the application's replica reaches it before it gives up.
 */
export function decisionAgeBounds(tapTimeoutMs: number): { maxAgeMs: number; endpointWaitMs: number } {
  const maxAgeMs = 2 * tapTimeoutMs;
  return { maxAgeMs, endpointWaitMs: maxAgeMs + Math.min(1000, Math.ceil(tapTimeoutMs / 2)) };
}
