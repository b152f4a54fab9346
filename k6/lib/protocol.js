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

/** An NEA client bound explicitly to one terminal, as an application with `credential` (docs/security.md). */
export function neaHello(terminalId, credential) {
  const data = { role: 'nea', terminalId: terminalId, app: { name: 'k6', version: '1' } };
  if (credential) data.credential = credential;
  return encodeFrame('hello', data);
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

/** Asks for a fresh challenge; the answer is a `challenge` frame with the same ref. */
export function challengeRequestFrame(ref) {
  return encodeFrame('challenge.request', undefined, ref);
}

/** One advert of `bandId` as the terminal's BLE scanner would relay it (presence must know the band). */
export function advertsFrame(bandId, rssi, seenAt) {
  const advert = { bandId: bandId, rssi: rssi, state: 'authenticated', seenAt: seenAt };
  return encodeFrame('adverts', { adverts: [advert] });
}

export const PROOF_DOMAIN = 'tapgate-tap-v1';
const PROOF_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * WebCrypto: the global `crypto` in k6 1.x (and Node 19+). Older k6 (v0.44 to v0.5x) offers it only as the
 * module k6/experimental/webcrypto, which later k6 retired (importing it fails there), so the module is
 * not imported but required, here at init (the only place k6 allows require), and only when the global
 * is missing.
 */
export const webCrypto =
  typeof crypto !== 'undefined' && crypto && crypto.subtle ? crypto : legacyWebCrypto();

function legacyWebCrypto() {
  if (typeof require !== 'function') return undefined;
  try {
    return require('k6/experimental/webcrypto').crypto;
  } catch (_err) {
    return undefined;
  }
}

function defaultSubtle() {
  if (!webCrypto || !webCrypto.subtle) {
    throw new Error(
      'signed taps need WebCrypto: the global crypto (k6 1.x) or k6/experimental/webcrypto (k6 0.44+)',
    );
  }
  return webCrypto.subtle;
}

/** base64url without padding. Written out because k6/encoding is not importable under Node. */
export function base64url(bytes) {
  const b = new Uint8Array(bytes);
  let out = '';
  for (let i = 0; i < b.length; i += 3) {
    const n = (b[i] << 16) | ((b[i + 1] || 0) << 8) | (b[i + 2] || 0);
    out += B64URL[(n >> 18) & 63] + B64URL[(n >> 12) & 63];
    if (i + 1 < b.length) out += B64URL[(n >> 6) & 63];
    if (i + 2 < b.length) out += B64URL[n & 63];
  }
  return out;
}

/**
 * The UTF-8 bytes a band signs (docs/protocol.md §5). Every field is ASCII by construction (base64url,
 * ids, digits), so the bytes are the char codes; anything else is refused rather than mis-encoded.
 */
export function proofMessage(request) {
  const ts = request.timestamp;
  if (!Number.isSafeInteger(ts) || ts < 0) throw new Error('tap proof: timestamp must be integer ms');
  for (const name of ['challenge', 'terminalId', 'bandId']) {
    if (typeof request[name] !== 'string' || !/^[A-Za-z0-9_-]+$/.test(request[name])) {
      throw new Error('tap proof: ' + name + ' must be base64url / id characters');
    }
  }
  const text = [PROOF_DOMAIN, request.challenge, request.terminalId, request.bandId, String(ts)].join('\n');
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Imports an enrolled band's private JWK for signing (not extractable). */
export function importBandKey(privateJwk, subtle) {
  return (subtle || defaultSubtle()).importKey('jwk', privateJwk, PROOF_ALGORITHM, false, ['sign']);
}

/** A new band key pair; the public JWK is what POST /v1/enrollments takes. */
export async function generateBandKey(subtle) {
  const s = subtle || defaultSubtle();
  const pair = await s.generateKey(PROOF_ALGORITHM, true, ['sign', 'verify']);
  const privateJwk = await s.exportKey('jwk', pair.privateKey);
  const publicJwk = { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y };
  return { privateJwk: privateJwk, publicJwk: publicJwk };
}

/**
 * The proof a band makes over the gateway's challenge for one tap (docs/protocol.md §5 "The tap proof"):
 * {challenge, timestamp, terminalId, signature}, the signature ECDSA P-256 / SHA-256 in IEEE P1363 form
 * (what WebCrypto's sign returns), base64url. `request.privateKey` is a CryptoKey from importBandKey;
 * without one, or without a challenge, the tap goes out unsigned (undefined) and the gateway refuses it
 * with a reason, which is what the no-enrollment mode measures.
 */
export async function signTap(request) {
  if (!request || !request.privateKey || !request.challenge) return undefined;
  const subtle = request.subtle || defaultSubtle();
  const signature = await subtle.sign(SIGN_ALGORITHM, request.privateKey, proofMessage(request));
  return {
    challenge: request.challenge,
    timestamp: request.timestamp,
    terminalId: request.terminalId,
    signature: base64url(signature),
  };
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
