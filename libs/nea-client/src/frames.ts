// The socket frames the SDK sends and receives (docs/protocol.md). Copied from @tapgate/contracts so the
// browser build has no dependencies; contracts.test.ts checks them against the contracts' decoders.

export const PROTOCOL_VERSION = 1;
export const TERMINAL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export type UserStatus =
  | 'active'
  | 'disabled'
  | 'locked_out'
  | 'password_expired'
  | 'must_change_password'
  | 'account_expired'
  | 'not_found'
  | 'unavailable'
  | 'not_configured'
  | 'identity_changed';

export type RefusalReason =
  | 'no_listener'
  | 'unknown_band'
  | 'band_suspended'
  | 'bad_signature'
  | 'challenge_replayed'
  | 'challenge_expired'
  | 'challenge_unknown'
  | 'wrong_terminal'
  | 'band_not_authenticated'
  | 'presence_unknown'
  | 'ble_not_allowed'
  | 'uid_not_allowed'
  | 'user_not_active'
  | 'status_unavailable'
  | 'status_not_configured'
  | 'same_signer'
  | 'identity_changed'
  | 'decision_too_old'
  | 'internal_error';

export interface DecisionUser {
  sAMAccountName: string;
  displayName?: string;
  dn?: string;
}

/** The platform's verdict on a tap. Act only on `outcome: "granted"`. */
export interface TapDecision {
  outcome: 'granted' | 'refused';
  reason?: RefusalReason;
  /** A sentence a worker can read. */
  message?: string;
  user?: DecisionUser;
  status?: UserStatus;
  identifiedBy: 'proof' | 'uid' | 'none';
}

export interface TapEvent {
  tapId: string;
  terminalId: string;
  kind: 'nfc' | 'ble';
  bandId?: string;
  decision: TapDecision;
  at: string;
}

export type PresenceLevel = 'yes' | 'likely' | 'unlikely' | 'no';

export interface PresenceEvent {
  terminalId: string;
  bandId: string;
  presence: PresenceLevel;
  previous?: PresenceLevel;
  authenticated: boolean;
  rssi?: number;
  at: string;
}

export interface Binding {
  mode: 'explicit' | 'implicit';
  terminalId?: string;
  address?: string;
}

export interface Welcome {
  sessionId: string;
  protocol: 1;
  /** The gateway's protocol minor version; absent from gateways of minor 0 (docs/protocol.md §11). */
  protocolMinor?: number;
  heartbeatIntervalMs: number;
  maxFrameBytes: number;
  challenge?: { challenge: string; expiresAt: string };
  binding?: Binding;
}

export interface LoginPending {
  requestId: string;
  expiresAt: string;
}

export interface LoginResult {
  requestId: string;
  outcome: 'granted' | 'refused' | 'expired' | 'cancelled';
  decision?: TapDecision;
  /** Compact JWS (ES256), only when granted: send it to your server, which verifies it (docs/nea-sdk.md). */
  assertion?: string;
}

export interface EsignOpened {
  ceremonyId: string;
  expiresAt: string;
}

export interface EsignSignature {
  ceremonyId: string;
  signer: 1 | 2;
  outcome: 'granted' | 'refused';
  decision: TapDecision;
  assertion?: string;
}

export interface EsignClosed {
  ceremonyId: string;
  state: 'completed' | 'expired' | 'cancelled';
  assertions: string[];
}

export interface ErrorBody {
  code: string;
  message: string;
  issues?: Array<{ path: string; message: string }>;
}

export interface NeaHello {
  role: 'nea';
  terminalId?: string;
  credential?: string;
  app?: { name: string; version: string };
  authUrl?: string;
}

export interface LoginRequest {
  audience?: string;
  timeoutMs?: number;
  /** Your server's nonce for this login; the assertion's `nonce` claim carries it (check it there). */
  nonce?: string;
}

export interface EsignOpen {
  reason: string;
  comment?: string;
  secondSignerRequired: boolean;
  audience?: string;
  /** Your server's nonce for this ceremony; every signature's `nonce` claim carries it. */
  nonce?: string;
  /** Your server's hash of the record being signed (e.g. base64url SHA-256); echoed in `tapgate.recordHash`. */
  recordHash?: string;
}

/** Frames an NEA client sends, by type. */
export interface ClientFrames {
  hello: NeaHello;
  ping: undefined;
  'presence.subscribe': undefined;
  'login.request': LoginRequest;
  'login.cancel': undefined;
  'esign.open': EsignOpen;
  'esign.cancel': { ceremonyId: string };
}

/** Frames an NEA client acts on, by type. */
export interface ServerFrames {
  welcome: Welcome;
  pong: Record<string, never> | undefined;
  tap: TapEvent;
  presence: PresenceEvent;
  'login.pending': LoginPending;
  'login.result': LoginResult;
  'esign.opened': EsignOpened;
  'esign.signature': EsignSignature;
  'esign.closed': EsignClosed;
  error: ErrorBody;
}

export type ServerFrame = {
  [T in keyof ServerFrames]: { type: T; ref?: string; data: ServerFrames[T] };
}[keyof ServerFrames];

export function encodeFrame<T extends keyof ClientFrames>(
  type: T,
  data: ClientFrames[T],
  ref?: string,
): string {
  const frame: Record<string, unknown> = { v: PROTOCOL_VERSION, type };
  if (ref !== undefined) frame.ref = ref;
  if (data !== undefined) frame.data = data;
  return JSON.stringify(frame);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const oneOf = (v: unknown, values: readonly string[]) => isStr(v) && values.includes(v);
const isDecision = (v: unknown): boolean =>
  isObj(v) && oneOf(v.outcome, ['granted', 'refused']) && (v.user === undefined || isObj(v.user));

// Only what the state machine relies on is checked; other fields pass through, since a newer server may
// add optional fields within version 1 (docs/protocol.md §11).
const CHECKS: { [T in keyof ServerFrames]: (d: Obj) => boolean } = {
  welcome: (d) =>
    isStr(d.sessionId) &&
    typeof d.heartbeatIntervalMs === 'number' &&
    d.heartbeatIntervalMs > 0 &&
    (d.protocolMinor === undefined || typeof d.protocolMinor === 'number'),
  pong: () => true,
  tap: (d) => isStr(d.tapId) && isStr(d.terminalId) && isDecision(d.decision),
  presence: (d) => isStr(d.bandId) && isStr(d.terminalId) && isStr(d.presence),
  'login.pending': (d) => isStr(d.requestId),
  'login.result': (d) =>
    isStr(d.requestId) &&
    oneOf(d.outcome, ['granted', 'refused', 'expired', 'cancelled']) &&
    (d.decision === undefined || isDecision(d.decision)) &&
    // A grant without an assertion cannot sign anyone in.
    (d.outcome !== 'granted' || isStr(d.assertion)),
  'esign.opened': (d) => isStr(d.ceremonyId),
  'esign.signature': (d) =>
    isStr(d.ceremonyId) &&
    (d.signer === 1 || d.signer === 2) &&
    oneOf(d.outcome, ['granted', 'refused']) &&
    isDecision(d.decision) &&
    (d.outcome !== 'granted' || isStr(d.assertion)),
  'esign.closed': (d) =>
    isStr(d.ceremonyId) &&
    oneOf(d.state, ['completed', 'expired', 'cancelled']) &&
    Array.isArray(d.assertions) &&
    d.assertions.every(isStr),
  error: (d) => isStr(d.code) && isStr(d.message),
};

/** Parses a server frame; returns why it was ignored instead of throwing. Unknown types are ignored too. */
export function parseServerFrame(text: unknown): ServerFrame | { ignored: string } {
  if (!isStr(text)) return { ignored: 'binary frame' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ignored: 'not JSON' };
  }
  if (!isObj(raw) || raw.v !== PROTOCOL_VERSION || !isStr(raw.type)) return { ignored: 'bad envelope' };
  if (raw.ref !== undefined && !isStr(raw.ref)) return { ignored: 'bad ref' };
  const type = raw.type;
  if (!Object.prototype.hasOwnProperty.call(CHECKS, type)) {
    return { ignored: `unknown type ${type.slice(0, 40)}` };
  }
  const check = CHECKS[type as keyof ServerFrames];
  const data = raw.data === undefined ? {} : raw.data;
  if (!isObj(data) || !check(data)) return { ignored: `invalid ${type}` };
  return { type, ref: raw.ref, data: raw.data } as ServerFrame;
}
