// The reconnect hint of a draining or not-yet-ready gateway (docs/protocol.md, "Reconnecting"). Copied from
// @tapgate/contracts (parseReconnectHint) so the browser build has no dependencies; contracts.test.ts
// checks that both read every hint alike.

/** Close code 1012, "service restart": the gateway drains for an upgrade. */
export const SERVICE_RESTART = 1012;
/** Close code 1013, "try again later": the gateway is not ready yet. */
export const TRY_AGAIN_LATER = 1013;
/** The longest delay a hint may ask for; longer hints are shortened to this. */
export const MAX_RECONNECT_HINT_MS = 30_000;

/**
 * The delay (ms) a close with code 1012 or 1013 and reason `{"reconnectAfterMs":N}` asks for, or
 * undefined for any other close, or a missing or malformed hint (the client then uses its usual backoff).
 */
export function parseReconnectHint(code: number | undefined, reason: string | undefined): number | undefined {
  if (code !== SERVICE_RESTART && code !== TRY_AGAIN_LATER) return undefined;
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 123) return undefined;
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
