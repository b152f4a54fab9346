import { hostname } from 'node:os';
import { TERMINAL_ID_PATTERN } from '@tapgate/contracts';
import { boolean, integer, ipOrCidrList, list, text } from '../fields';
import { defineSection } from '../section';
import { defined, subjectSafeName } from '../util';

export interface GatewaySettings {
  maxFrameBytes: number;
  handshakeTimeoutMs: number;
  heartbeatIntervalMs: number;
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** Close a connection after this many messages dropped by the rate limit within one second. */
  floodCloseAfter: number;
  /** IPs / CIDR ranges whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  tapTimeoutMs: number;
  gatewayId: string;
  /** How long a tap challenge stays valid. */
  challengeTtlMs: number;
  /** Endpoints must present a per-terminal credential (or an mTLS certificate) in hello. */
  requireEndpointCredentials: boolean;
  /** With [agent] protocol = "wss": ask endpoints for client certificates (CN = terminal id). */
  endpointMtls: boolean;
  /** Baseline of the policy field "Plain NFC UIDs allowed" (policies override it; see gatewayBaseline). */
  allowUidTaps: boolean;
  /** Baseline of "BLE tap allowed". */
  allowBleTaps: boolean;
  /** Baseline of "Presence required": a tap needs presence to report the band authenticated. */
  requirePresence: boolean;
  /** Baseline of the ceremony timeout: ceremonies expire after this long without completing. */
  esignTimeoutMs: number;
  /** Browser origins allowed to open sockets (e.g. https://mes.example.com); empty = any. */
  allowedOrigins: string[];
  /**
   * Development only: NEA clients may bind explicitly (terminalId in hello) without an application
   * credential or certificate. Off by default: anyone who can reach the port could watch any terminal.
   */
  allowUnauthenticatedExplicitBinding: boolean;
  /**
   * Drain (SIGTERM): how long readiness is false while every socket stays open and new ones are still
   * served, so the load balancer stops sending new connections before any socket closes.
   */
  drainDelayMs: number;
  /** Drain: sockets close at random moments within this window after the delay (1012 + reconnect hint). */
  drainSpreadMs: number;
  /** Drain: the longest wait for logins and ceremonies in flight; the rest then end as `abandoned`. */
  drainTimeoutMs: number;
}

// setTimeout overflows above 2^31-1 ms, so durations are capped at one day.
const ms = (dflt: number, min: number) => integer({ default: dflt, min, max: 86_400_000 });

export const gatewaySection = defineSection({
  name: 'gateway',
  summary: 'ws-gateway limits, timeouts and proxy trust',
  fields: {
    max_frame_bytes: integer({ default: 65_536, min: 256, max: 16_777_216 }),
    handshake_timeout_ms: ms(5000, 10),
    heartbeat_interval_ms: ms(15_000, 10),
    rate_limit_per_second: integer({ default: 50, min: 1, max: 1_000_000 }),
    rate_limit_burst: integer({ default: 100, min: 1, max: 1_000_000 }),
    flood_close_after: integer({ default: 200, min: 1, max: 1_000_000 }),
    trusted_proxies: ipOrCidrList(),
    tap_timeout_ms: ms(2000, 1),
    // The id may travel in NATS subjects, hence the same character rules as terminal ids.
    gateway_id: text({
      default: () => subjectSafeName(hostname(), 'gateway'),
      defaultText: 'the host name',
      expects: '1-64 of A-Z a-z 0-9 _ -',
      validate: (v) => (TERMINAL_ID_PATTERN.test(v) ? undefined : 'must be 1-64 of A-Z a-z 0-9 _ -'),
    }),
    challenge_ttl_ms: ms(30_000, 1000),
    require_endpoint_credentials: boolean(true),
    endpoint_mtls: boolean(false),
    allow_uid_taps: boolean(false),
    allow_ble_taps: boolean(true),
    require_presence: boolean(true),
    esign_timeout_ms: ms(120_000, 1000),
    allowed_origins: list({
      default: [],
      expects: 'origins such as "https://mes.example.com"',
      item: (v) => {
        try {
          const u = new URL(v);
          return u.origin === v && (u.protocol === 'https:' || u.protocol === 'http:')
            ? undefined
            : 'must be an origin: scheme://host[:port], no path';
        } catch {
          return 'is not a URL origin';
        }
      },
    }),
    allow_unauthenticated_explicit_binding: boolean(false),
    // Defaults for Kubernetes: endpoints propagation takes a few seconds; see docs/operations.md for the
    // terminationGracePeriodSeconds they need.
    drain_delay_ms: ms(5000, 0),
    drain_spread_ms: ms(10_000, 0),
    drain_timeout_ms: ms(30_000, 0),
  },
  build: (v): GatewaySettings => {
    return defined({
      maxFrameBytes: v.max_frame_bytes,
      handshakeTimeoutMs: v.handshake_timeout_ms,
      heartbeatIntervalMs: v.heartbeat_interval_ms,
      rateLimitPerSecond: v.rate_limit_per_second,
      rateLimitBurst: v.rate_limit_burst,
      floodCloseAfter: v.flood_close_after,
      trustedProxies: v.trusted_proxies,
      tapTimeoutMs: v.tap_timeout_ms,
      gatewayId: v.gateway_id,
      challengeTtlMs: v.challenge_ttl_ms,
      requireEndpointCredentials: v.require_endpoint_credentials,
      endpointMtls: v.endpoint_mtls,
      allowUidTaps: v.allow_uid_taps,
      allowBleTaps: v.allow_ble_taps,
      requirePresence: v.require_presence,
      esignTimeoutMs: v.esign_timeout_ms,
      allowedOrigins: v.allowed_origins,
      allowUnauthenticatedExplicitBinding: v.allow_unauthenticated_explicit_binding,
      drainDelayMs: v.drain_delay_ms,
      drainSpreadMs: v.drain_spread_ms,
      drainTimeoutMs: v.drain_timeout_ms,
    });
  },
});
