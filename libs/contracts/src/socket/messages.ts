import { z } from 'zod';
import {
  BadgeUid,
  Base64Url,
  BandId,
  EnrollmentSessionId,
  IsoTime,
  SamAccountName,
  TerminalId,
} from '../ids';
import { BandPublicJwk } from '../nats/records';
import { EnrollRefusalReason, ErrorCode, RefusalReason } from './codes';

/** Socket protocol version carried in every frame as `v`. */
export const SOCKET_PROTOCOL_VERSION = 1;

/**
 * The protocol minor version this gateway speaks within version 1, sent in `welcome` as
 * `protocolMinor` (absent = 0, what gateways before minor versions speak). A minor only adds what older
 * clients can ignore; clients read it to know which additions they may rely on. docs/protocol.md §11
 * lists what each minor added: raise this with every such addition, and add its row there.
 */
export const SOCKET_PROTOCOL_MINOR = 1;

// ---------------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------------

/** A program's name and version, as an endpoint or application states it in its hello. */
export const Software = z.object({ name: z.string().max(64), version: z.string().max(32) }).strict();
export type Software = z.infer<typeof Software>;

export const UserStatus = z.enum([
  'active',
  'disabled',
  'locked_out',
  'password_expired',
  'must_change_password',
  'account_expired',
  'not_found',
  'unavailable',
  'not_configured',
  /** The enrollment's account name now belongs to another directory object than the one it is bound to. */
  'identity_changed',
]);
export type UserStatus = z.infer<typeof UserStatus>;

export const DecisionUser = z
  .object({
    sAMAccountName: SamAccountName,
    displayName: z.string().max(256).optional(),
    dn: z.string().max(1024).optional(),
  })
  .strict();

/** A refusal reason on the wire (the codes of RefusalReason). */
export const RefusalReasonCode = z.enum(Object.values(RefusalReason) as [RefusalReason, ...RefusalReason[]]);

/** The platform's verdict on one tap. `granted` only when every configured check passed. */
export const TapDecision = z
  .object({
    outcome: z.enum(['granted', 'refused']),
    reason: RefusalReasonCode.optional(),
    /** Human-readable explanation suitable for showing to the worker. */
    message: z.string().max(512).optional(),
    user: DecisionUser.optional(),
    status: UserStatus.optional(),
    /** How the band was identified: a verified ECDSA proof, or a plain NFC UID where policy allows it. */
    identifiedBy: z.enum(['proof', 'uid', 'none']),
  })
  .strict();
export type TapDecision = z.infer<typeof TapDecision>;

export const TapKind = z.enum(['nfc', 'ble']);
export type TapKind = z.infer<typeof TapKind>;

/** ECDSA P-256 proof made by the band over the gateway's challenge (see libs/band). */
export const TapProof = z
  .object({
    challenge: Base64Url.min(16).max(128),
    /** Milliseconds since the epoch when the band signed. */
    timestamp: z.number().int().nonnegative(),
    /** The terminal the band signed for; must equal the endpoint's terminal. */
    terminalId: TerminalId,
    /** IEEE P1363 (r||s) signature, base64url. */
    signature: Base64Url.min(80).max(100),
    /** Proof format version (docs/protocol.md §5); absent = 1. Version 2 also signs the tap kind. */
    format: z.literal(2).optional(),
  })
  .strict();
export type TapProof = z.infer<typeof TapProof>;

// ---------------------------------------------------------------------------------------------------
// Client -> server
// ---------------------------------------------------------------------------------------------------

export const EndpointHello = z
  .object({
    role: z.literal('endpoint'),
    terminalId: TerminalId,
    /** Per-terminal credential (bearer secret) issued by the administrator. */
    credential: z.string().min(1).max(512).optional(),
    /**
     * The endpoint's program and version, shown on the console's Terminals page. Optional: endpoints
     * older than this field connect without it (the page says "not reported").
     */
    software: Software.optional(),
    capabilities: z
      .array(z.enum(['nfc', 'ble', 'simulated']))
      .max(8)
      .optional(),
  })
  .strict();

export const NeaHello = z
  .object({
    role: z.literal('nea'),
    /** Explicit binding. Omit to bind by source address (the endpoint on the same machine). */
    terminalId: TerminalId.optional(),
    /**
     * Application credential (bearer secret) issued in the policy API. Required for explicit binding
     * unless the application authenticated with an mTLS certificate (CN `app:<id>`).
     */
    credential: z.string().min(1).max(512).optional(),
    app: Software.optional(),
    /** POMSnet's BiometricAuthenticationAuthURL, passed through for the audit trail. */
    authUrl: z.string().max(2048).optional(),
  })
  .strict();

export const Hello = z.discriminatedUnion('role', [EndpointHello, NeaHello]);
export type Hello = z.infer<typeof Hello>;

export const Tap = z
  .object({
    /** Endpoint-chosen unique id for this tap; echoed in `tap.result` and delivered to NEA clients. */
    tapId: z.string().min(1).max(64),
    kind: TapKind,
    bandId: BandId.optional(),
    /** Plain NFC badge UID (hex) for sites whose policy allows UID taps. */
    uid: z
      .string()
      .regex(/^[0-9A-Fa-f]{8,32}$/)
      .optional(),
    proof: TapProof.optional(),
    /** When the endpoint saw the tap (its clock). */
    at: IsoTime,
  })
  .strict()
  .refine((t) => t.bandId !== undefined || t.uid !== undefined, { message: 'a tap needs bandId or uid' });
export type Tap = z.infer<typeof Tap>;

export const Advert = z
  .object({
    bandId: BandId,
    rssi: z.number().int().min(-127).max(20),
    /** Band state from the advertisement (old SDK's found states, simplified). */
    state: z.enum(['authenticated', 'on_wrist', 'unclasped']),
    seenAt: IsoTime,
  })
  .strict();
export type Advert = z.infer<typeof Advert>;

export const Adverts = z.object({ adverts: z.array(Advert).min(1).max(256) }).strict();

const Empty = z.object({}).strict().optional();

/** An NEA asks for a login tap: the next valid tap on its terminal signs the user in. */
export const LoginRequest = z
  .object({
    /** Who the assertion is for (the NEA's id, e.g. POMSnet's authUrl); default: the hello's authUrl or app name. */
    audience: z.string().min(1).max(256).optional(),
    /** How long to wait for the tap; default 60 s, at most 10 min. */
    timeoutMs: z.number().int().min(1000).max(600_000).optional(),
    /** The relying party's nonce for this request, copied into the assertion's `nonce` claim. */
    nonce: z.string().min(1).max(256).optional(),
  })
  .strict();

export const EsignOpen = z
  .object({
    reason: z.string().min(1).max(256),
    comment: z.string().max(1024).optional(),
    secondSignerRequired: z.boolean(),
    audience: z.string().min(1).max(256).optional(),
    /** The relying party's nonce for this ceremony, copied into every signature's `nonce` claim. */
    nonce: z.string().min(1).max(256).optional(),
    /** The relying party's hash of the record being signed (e.g. base64url SHA-256), echoed in each signature. */
    recordHash: z.string().min(1).max(128).optional(),
  })
  .strict();

export const CeremonyRef = z.object({ ceremonyId: z.string().min(1).max(64) }).strict();

/** What an enrollment session accepts: bands (key + proof of possession) and/or plain UID badges. */
export const EnrollKind = z.enum(['band', 'uid']);
export type EnrollKind = z.infer<typeof EnrollKind>;

/**
 * An enrollment tap (docs/protocol.md, "Enrollment by tap"): a new band presents its id and public key
 * with a proof of possession made over a challenge of this socket and the session id
 * (`tapgate-enroll-v1`, libs/band), or a UID badge presents its UID (no proof is possible).
 */
export const EnrollTap = z
  .object({
    tapId: z.string().min(1).max(64),
    sessionId: EnrollmentSessionId,
    kind: TapKind,
    bandId: BandId.optional(),
    publicKey: BandPublicJwk.strict().optional(),
    proof: TapProof.optional(),
    uid: BadgeUid.optional(),
    at: IsoTime,
  })
  .strict()
  .refine(
    (t) =>
      t.uid !== undefined
        ? t.bandId === undefined && t.publicKey === undefined && t.proof === undefined
        : t.bandId !== undefined && t.publicKey !== undefined && t.proof !== undefined,
    { message: 'an enrollment tap carries bandId, publicKey and proof (a band), or uid alone (a badge)' },
  );
export type EnrollTap = z.infer<typeof EnrollTap>;

/** Every message a client may send, by `type`. */
export const ClientMessageSchemas = {
  hello: Hello,
  ping: Empty,
  tap: Tap,
  adverts: Adverts,
  'challenge.request': Empty,
  'presence.subscribe': Empty,
  'login.request': LoginRequest,
  'login.cancel': Empty,
  'esign.open': EsignOpen,
  'esign.cancel': CeremonyRef,
  'enroll.tap': EnrollTap,
} as const;
export type ClientMessageType = keyof typeof ClientMessageSchemas;
export type ClientMessageData<T extends ClientMessageType> = z.infer<(typeof ClientMessageSchemas)[T]>;

/** Which role may send which types after the handshake. */
export const ENDPOINT_MESSAGE_TYPES: readonly ClientMessageType[] = [
  'ping',
  'tap',
  'adverts',
  'challenge.request',
  'enroll.tap',
];
export const NEA_MESSAGE_TYPES: readonly ClientMessageType[] = [
  'ping',
  'presence.subscribe',
  'login.request',
  'login.cancel',
  'esign.open',
  'esign.cancel',
];

// ---------------------------------------------------------------------------------------------------
// Server -> client
// ---------------------------------------------------------------------------------------------------

export const Challenge = z.object({ challenge: Base64Url, expiresAt: IsoTime }).strict();
export type Challenge = z.infer<typeof Challenge>;

export const Binding = z
  .object({
    mode: z.enum(['explicit', 'implicit']),
    terminalId: TerminalId.optional(),
    /** Source address the implicit binding follows. */
    address: z.string().optional(),
  })
  .strict();

export const Welcome = z
  .object({
    sessionId: z.string(),
    protocol: z.literal(SOCKET_PROTOCOL_VERSION),
    /** SOCKET_PROTOCOL_MINOR of the gateway; absent from gateways of minor 0. */
    protocolMinor: z.number().int().nonnegative().optional(),
    heartbeatIntervalMs: z.number().int().positive(),
    maxFrameBytes: z.number().int().positive(),
    /** Endpoints only: the first challenge to sign. */
    challenge: Challenge.optional(),
    /** NEA clients only. */
    binding: Binding.optional(),
  })
  .strict();
export type Welcome = z.infer<typeof Welcome>;

export const TapResult = z
  .object({
    tapId: z.string(),
    decision: TapDecision,
    /** How many NEA clients received the tap. */
    deliveredTo: z.number().int().nonnegative(),
    /** A fresh challenge for the next tap. */
    challenge: Challenge.optional(),
  })
  .strict();
export type TapResult = z.infer<typeof TapResult>;

/** What an NEA client receives for a tap on its terminal. */
export const TapEvent = z
  .object({
    tapId: z.string(),
    terminalId: TerminalId,
    kind: TapKind,
    bandId: BandId.optional(),
    decision: TapDecision,
    /** When the gateway received the tap. */
    at: IsoTime,
  })
  .strict();
export type TapEvent = z.infer<typeof TapEvent>;

export const ErrorBody = z
  .object({
    code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
    message: z.string(),
    /** Schema violations: where and what. */
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .strict();
export type ErrorBody = z.infer<typeof ErrorBody>;

/** Presence change pushed to NEA clients that sent `presence.subscribe` (for their bound terminal). */
export const PresenceEvent = z
  .object({
    terminalId: TerminalId,
    bandId: BandId,
    presence: z.enum(['yes', 'likely', 'unlikely', 'no']),
    previous: z.enum(['yes', 'likely', 'unlikely', 'no']).optional(),
    authenticated: z.boolean(),
    rssi: z.number().optional(),
    at: IsoTime,
  })
  .strict();
export type PresenceEvent = z.infer<typeof PresenceEvent>;

/** A login the NEA asked for is waiting for a tap. */
export const LoginPending = z.object({ requestId: z.string(), expiresAt: IsoTime }).strict();

/**
 * The outcome of a login request. `assertion` (a compact JWS, ES256) is present only when granted; the
 * NEA's server verifies it against the platform's JWKS before it signs the user in.
 */
export const LoginResult = z
  .object({
    requestId: z.string(),
    outcome: z.enum(['granted', 'refused', 'expired', 'cancelled']),
    decision: TapDecision.optional(),
    assertion: z.string().optional(),
  })
  .strict();

export const EsignOpened = z.object({ ceremonyId: z.string(), expiresAt: IsoTime }).strict();

/** One signer's tap in a ceremony: granted with an assertion, or refused with the reason. */
export const EsignSignature = z
  .object({
    ceremonyId: z.string(),
    /** 1 = first signer, 2 = second signer. */
    signer: z.union([z.literal(1), z.literal(2)]),
    outcome: z.enum(['granted', 'refused']),
    decision: TapDecision,
    assertion: z.string().optional(),
  })
  .strict();

export const EsignClosed = z
  .object({
    ceremonyId: z.string(),
    state: z.enum(['completed', 'expired', 'cancelled']),
    /** The granted signatures' assertions, in signer order (for completed ceremonies). */
    assertions: z.array(z.string()),
  })
  .strict();

/** The gateway tells an endpoint that its next tap is an enrollment tap for this session. */
export const EnrollExpect = z
  .object({
    sessionId: EnrollmentSessionId,
    expiresAt: IsoTime,
    accept: z.array(EnrollKind).min(1).max(2),
  })
  .strict();
export type EnrollExpect = z.infer<typeof EnrollExpect>;

/** The session ended (cancelled by the administrator, or used): taps are ordinary taps again. */
export const EnrollEnd = z
  .object({
    sessionId: EnrollmentSessionId,
    state: z.enum(['enrolled', 'cancelled', 'expired']),
  })
  .strict();
export type EnrollEnd = z.infer<typeof EnrollEnd>;

export const EnrollRefusalCode = z.enum(
  Object.values(EnrollRefusalReason) as [EnrollRefusalReason, ...EnrollRefusalReason[]],
);

/** The answer to `enroll.tap`. */
export const EnrollResult = z
  .object({
    tapId: z.string(),
    outcome: z.enum(['enrolled', 'refused']),
    reason: EnrollRefusalCode.optional(),
    /** A sentence for the administrator at the station. */
    message: z.string().max(512),
    /** The band id enrolled (for a badge: `uid-<hex>`). */
    bandId: BandId.optional(),
    kind: EnrollKind.optional(),
    /** A UID badge has no proof of possession: anyone who reads the UID can copy it. */
    warning: z.string().max(512).optional(),
    challenge: Challenge.optional(),
  })
  .strict();
export type EnrollResult = z.infer<typeof EnrollResult>;

export const ServerMessageSchemas = {
  'enroll.expect': EnrollExpect,
  'enroll.end': EnrollEnd,
  'enroll.result': EnrollResult,
  presence: PresenceEvent,
  'login.pending': LoginPending,
  'login.result': LoginResult,
  'esign.opened': EsignOpened,
  'esign.signature': EsignSignature,
  'esign.closed': EsignClosed,
  welcome: Welcome,
  pong: Empty,
  challenge: Challenge,
  'tap.result': TapResult,
  tap: TapEvent,
  error: ErrorBody,
} as const;
export type ServerMessageType = keyof typeof ServerMessageSchemas;
export type ServerMessageData<T extends ServerMessageType> = z.infer<(typeof ServerMessageSchemas)[T]>;
