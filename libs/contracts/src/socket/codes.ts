// Error and close codes of the socket protocol (docs/protocol.md). Never renumber or rename: clients
// in the field switch on these values.

/** Codes carried in `error` frames and in refusals. */
export const ErrorCode = {
  MalformedJson: 'malformed_json',
  InvalidEnvelope: 'invalid_envelope',
  UnsupportedVersion: 'unsupported_version',
  UnknownType: 'unknown_type',
  SchemaViolation: 'schema_violation',
  FrameTooLarge: 'frame_too_large',
  RateLimited: 'rate_limited',
  HandshakeRequired: 'handshake_required',
  AlreadyHandshaken: 'already_handshaken',
  Unauthorized: 'unauthorized',
  Unavailable: 'unavailable',
  Internal: 'internal_error',
  /** login.request / esign.open while one is already open, or cancel with none open. */
  Conflict: 'conflict',
  /**
   * login.request / esign.open on a replica that is draining: nothing was opened; open it again once
   * the socket has reconnected (the replica closes it with 1012 soon).
   */
  Draining: 'draining',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * A peer silent for this many heartbeat intervals is taken for dead, by both sides: the gateway closes
 * the socket with 4002, a client terminates it and reconnects (docs/protocol.md, Heartbeats).
 */
export const HEARTBEAT_DEADLINE_INTERVALS = 2.5;

/** WebSocket close codes the gateway uses. 1xxx are RFC 6455; 4xxx are Tapgate's own. */
export const CloseCode = {
  /** Server shutting down (a plain stop, without a drain): reconnect with the usual backoff. */
  GoingAway: 1001,
  /** Repeated protocol violations, or a message flood past the rate limit. */
  PolicyViolation: 1008,
  /** Frame larger than the configured limit. */
  MessageTooBig: 1009,
  /** Unexpected server error. */
  InternalError: 1011,
  /**
   * Service restart: the replica drains (a rolling upgrade). The reason carries a reconnect hint, JSON
   * `{"reconnectAfterMs":N}` (encodeReconnectHint / parseReconnectHint): reconnect after N ms.
   */
  ServiceRestart: 1012,
  /**
   * The server cannot accept the connection yet (e.g. still loading its registries). The reason carries
   * a reconnect hint like 1012's (a gateway not ready since long asks for longer waits): retry then.
   */
  TryAgainLater: 1013,
  /**
   * Endpoint or application credentials missing or wrong, an application not authorized for the
   * terminal, or its access revoked (disabled, credential revoked, scope narrowed, deleted). Do not
   * retry without new credentials.
   */
  Unauthorized: 4001,
  /** No heartbeat within the allowed interval. */
  HeartbeatTimeout: 4002,
  /**
   * The administrator withdrew this endpoint's access while it was connected: terminal disabled or
   * deleted, credential rotated, or its certificate no longer pinned. Retry slowly, like 4001.
   */
  Revoked: 4003,
  /** Another endpoint connection identified with the same terminal id; the older one is closed. */
  Replaced: 4009,
  /** No `hello` within the handshake timeout. */
  HandshakeTimeout: 4408,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Why a tap was not granted. Part of every refused decision. */
export const RefusalReason = {
  /** No NEA client is bound to the terminal (or its address). */
  NoListener: 'no_listener',
  UnknownBand: 'unknown_band',
  BandSuspended: 'band_suspended',
  BadSignature: 'bad_signature',
  /** The challenge was used before (a replayed tap). */
  ChallengeReplayed: 'challenge_replayed',
  ChallengeExpired: 'challenge_expired',
  /** The challenge was never issued to this endpoint connection. */
  ChallengeUnknown: 'challenge_unknown',
  /** The proof names another terminal than the endpoint that sent it. */
  WrongTerminal: 'wrong_terminal',
  BandNotAuthenticated: 'band_not_authenticated',
  /** Presence could not be determined and policy requires it. */
  PresenceUnknown: 'presence_unknown',
  /** A BLE (RSSI) tap arrived but policy allows only NFC taps. */
  BleNotAllowed: 'ble_not_allowed',
  /** A plain NFC UID arrived but policy does not allow UID taps. */
  UidNotAllowed: 'uid_not_allowed',
  /** The user's AD status is not `active` (the status says which). */
  UserNotActive: 'user_not_active',
  /** The directory could not be asked. */
  StatusUnavailable: 'status_unavailable',
  /** user-status answered that checking status is off in policy. */
  StatusNotConfigured: 'status_not_configured',
  /**
   * The band's enrollment is bound to one directory object (objectGUID) but its account name now
   * belongs to another (renamed away and re-created, or deleted and re-created): never granted; an
   * administrator re-enrolls or updates the binding.
   */
  IdentityChanged: 'identity_changed',
  /** E-signature: the same person tapped for both signatures. */
  SameSigner: 'same_signer',
  /**
   * The decision was older than the gateway's bound on decision age (2 x `[gateway] tap_timeout_ms`)
   * when it reached the application's gateway, or that gateway could not finish in time: nothing was
   * delivered or granted, because the endpoint has stopped waiting for it.
   */
  DecisionTooOld: 'decision_too_old',
  /** A service did not answer in time, or answered with something invalid. */
  Internal: 'internal_error',
} as const;
export type RefusalReason = (typeof RefusalReason)[keyof typeof RefusalReason];

/**
 * Why an enrollment tap (docs/protocol.md, "Enrollment by tap") did not enroll a band or badge. The same
 * codes come back from the policy API when a session cannot be opened (terminal_offline, session_open).
 */
export const EnrollRefusalReason = {
  /** This terminal is not expecting an enrollment tap (no session, or it ended). */
  NoSession: 'no_session',
  SessionExpired: 'session_expired',
  SessionCancelled: 'session_cancelled',
  /** The session already enrolled a band: sessions are single use. */
  SessionUsed: 'session_used',
  /** The session (or the proof) is for another terminal. */
  WrongTerminal: 'wrong_terminal',
  /** The proof of possession does not verify against the key the band presented. */
  BadSignature: 'bad_signature',
  ChallengeReplayed: 'challenge_replayed',
  ChallengeExpired: 'challenge_expired',
  ChallengeUnknown: 'challenge_unknown',
  /** The band id (or badge UID) already has an enrollment. */
  AlreadyEnrolled: 'already_enrolled',
  /** The session does not accept this kind (a UID badge when only bands are accepted, or the reverse). */
  KindNotAccepted: 'kind_not_accepted',
  /** The key the band presented is not a P-256 public key. */
  InvalidKey: 'invalid_key',
  /** The session's user is unknown to the directory (or it could not be asked). */
  UserUnavailable: 'user_unavailable',
  /** API only: the terminal's endpoint is not connected to any gateway. */
  TerminalOffline: 'terminal_offline',
  /** API only: the terminal already has an open enrollment session. */
  SessionOpen: 'session_open',
  /** The policy service did not answer, or failed. */
  Internal: 'internal_error',
} as const;
export type EnrollRefusalReason = (typeof EnrollRefusalReason)[keyof typeof EnrollRefusalReason];
