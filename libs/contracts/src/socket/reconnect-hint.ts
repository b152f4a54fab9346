import { CloseCode } from './codes';

/** The longest reconnect delay a client accepts from a hint; longer hints are shortened to this. */
export const MAX_RECONNECT_HINT_MS = 30_000;
/** RFC 6455 limits a close reason to 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;

/** The close codes whose reason may carry a reconnect hint: a drain, and a gateway not ready yet. */
const HINTED_CLOSE_CODES: ReadonlySet<number> = new Set([CloseCode.ServiceRestart, CloseCode.TryAgainLater]);

/**
 * The close reason of a drain (close code 1012, "service restart") or of a gateway not ready yet (1013,
 * "try again later"): JSON `{"reconnectAfterMs":N}`, the delay the gateway asks the client to wait
 * before reconnecting (docs/protocol.md, "Reconnecting").
 */
export function encodeReconnectHint(reconnectAfterMs: number): string {
  const ms = Math.min(MAX_RECONNECT_HINT_MS, Math.max(0, Math.round(reconnectAfterMs)));
  return JSON.stringify({ reconnectAfterMs: ms });
}

/**
 * The delay a close asks for, in ms (at most MAX_RECONNECT_HINT_MS), or undefined when the close is
 * neither 1012 nor 1013 or its hint is missing or malformed: the client then uses its usual backoff.
 */
export function parseReconnectHint(code: number, reason: string): number | undefined {
  if (!HINTED_CLOSE_CODES.has(code)) return undefined;
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > MAX_CLOSE_REASON_BYTES) {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(reason);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const ms = (parsed as { reconnectAfterMs?: unknown }).reconnectAfterMs;
  if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0) return undefined;
  return Math.min(ms, MAX_RECONNECT_HINT_MS);
}
