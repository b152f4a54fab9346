// Frame helpers for Tapgate's socket protocol (docs/protocol.md; the schemas live in
// libs/contracts/src/socket/messages.ts). Pure functions with no k6 imports, so tests/deploy can check
// them against the real contracts under Node.

export const PROTOCOL_VERSION = 1;
/** Path endpoints connect to; NEA clients use the server root. */
export const ENDPOINT_PATH = '/socket/websocket';

const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** One frame: {"v":1,"type":..,"ref"?:..,"data"?:..}. */
export function encodeFrame(type, data, ref) {
  const frame = { v: PROTOCOL_VERSION, type: type };
  if (ref !== undefined) frame.ref = ref;
  if (data !== undefined) frame.data = data;
  return JSON.stringify(frame);
}

/** Parses a server frame; null for anything that is not a v1 frame object (never throws). */
export function decodeFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch (_err) {
    return null;
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) return null;
  if (frame.v !== PROTOCOL_VERSION || typeof frame.type !== 'string') return null;
  return { type: frame.type, ref: typeof frame.ref === 'string' ? frame.ref : undefined, data: frame.data };
}

export function endpointHello(terminalId, credential) {
  const data = { role: 'endpoint', terminalId: terminalId, software: { name: 'k6', version: '1' } };
  if (credential) data.credential = credential;
  return encodeFrame('hello', data);
}

/** An NEA client bound explicitly to one terminal. */
export function neaHello(terminalId) {
  return encodeFrame('hello', { role: 'nea', terminalId: terminalId, app: { name: 'k6', version: '1' } });
}

export function pingFrame(ref) {
  return encodeFrame('ping', undefined, ref);
}

/** A tap as an endpoint reports it; `proof` comes from signTap() and is omitted while undefined. */
export function tapFrame(tap) {
  const data = { tapId: tap.tapId, kind: tap.kind || 'nfc', bandId: tap.bandId, at: tap.at };
  if (tap.proof !== undefined) data.proof = tap.proof;
  return encodeFrame('tap', data);
}

/**
 * The proof a band makes over the gateway's challenge for one tap: {challenge, timestamp, terminalId,
 * signature}. It returns undefined for now, so taps go out unsigned and the gateway refuses them with a
 * reason (they are still delivered to the NEA clients, which is what the latency scenarios measure).
 *
 * TODO(docs/protocol.md): sign as §5 "The tap proof" of docs/protocol.md specifies (ECDSA P-256, SHA-256,
 * over "tapgate-tap-v1\n<challenge>\n<terminalId>\n<bandId>\n<timestamp>", P1363 signature in base64url),
 * with band keys the scenario enrolled, so taps are granted. Callers already await this function, so it
 * may use WebCrypto's asynchronous crypto.subtle.sign.
 */
export async function signTap(_request) {
  return undefined;
}

export function terminalIdFor(prefix, index) {
  return checkedId(prefix + '-t' + index);
}

export function bandIdFor(prefix, index) {
  return checkedId(prefix + '-b' + index);
}

function checkedId(id) {
  if (!ID_PATTERN.test(id)) throw new Error('id "' + id + '" is not 1-64 of A-Z a-z 0-9 _ -');
  return id;
}
