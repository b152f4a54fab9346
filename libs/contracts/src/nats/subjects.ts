import { z } from 'zod';
import { addressToken } from '../ids';
import {
  Advert,
  DecisionUser,
  RefusalReasonCode,
  Software,
  TapDecision,
  TapKind,
  UserStatus,
} from '../socket/messages';
import { BandId, IsoTime, ObjectGuid, ObjectSid, SamAccountName, TerminalId } from '../ids';

/**
 * Every NATS subject Tapgate uses, declared once with the schema of what travels on it.
 *
 * NEVER RENAME a subject or change a schema incompatibly: replicas of different versions share one
 * NATS during a rolling upgrade. Add a new versioned subject (`tapgate.v2...`) instead.
 */
export interface NatsContract<T> {
  /** Subject, or the wildcard a subscriber uses for a family of subjects. */
  readonly subject: string;
  readonly schema: z.ZodType<T>;
  /** Queue group for load-shared consumers, when there is one. */
  readonly queue?: string;
}

export interface RequestContract<Req, Res> extends NatsContract<Req> {
  readonly reply: z.ZodType<Res>;
}

function contract<T>(subject: string, schema: z.ZodType<T>, queue?: string): NatsContract<T> {
  return { subject, schema, queue };
}
function request<Req, Res>(
  subject: string,
  schema: z.ZodType<Req>,
  reply: z.ZodType<Res>,
  queue?: string,
): RequestContract<Req, Res> {
  return { subject, schema, reply, queue };
}

const V = 1;

// ----- tap delivery --------------------------------------------------------------------------------

export const TapDelivery = z
  .object({
    v: z.literal(V),
    tapId: z.string(),
    terminalId: TerminalId,
    kind: TapKind,
    bandId: BandId.optional(),
    decision: TapDecision,
    receivedAt: IsoTime,
  })
  .strict();
export type TapDelivery = z.infer<typeof TapDelivery>;

export const DeliveryAck = z
  .object({
    v: z.literal(V),
    delivered: z.number().int().nonnegative(),
    /**
     * Each binding group on each replica answers one delivery request, so the requester collects every
     * ack and sums `delivered`. `handed`: the group's sockets got the tap (`delivered` counts them) and a
     * `settled` ack (`delivered: 0`) follows once their logins and ceremonies have used it, with the
     * refusal if any. Absent: this one ack says everything (nothing was handed, or it was too old).
     */
    stage: z.enum(['handed', 'settled']).optional(),
    /**
     * The delivering replica refused the decision as a whole (it was too old, or the grant it consumed
     * could not be recorded): the endpoint reports this refusal, so it hears what the application heard.
     */
    refusal: z
      .object({
        reason: RefusalReasonCode,
        message: z.string().max(512),
      })
      .strict()
      .optional(),
  })
  .strict();
export type DeliveryAck = z.infer<typeof DeliveryAck>;

/**
 * A gateway holding NEA clients subscribes to `...deliver.<terminal>.*` for explicit bindings and to
 * `...deliver.*.<address>` for implicit ones; the endpoint's gateway sends one request to
 * `...deliver.<terminal>.<address>`. "No responders" therefore means no NEA client is bound. Every
 * group that holds sockets answers (see DeliveryAck.stage), so one request gets several acks.
 */
export const TapDeliver = request(`tapgate.v${V}.tap.deliver.>`, TapDelivery, DeliveryAck);
export const tapDeliverSubject = (terminalId: string, address: string): string =>
  `tapgate.v${V}.tap.deliver.${terminalId}.${addressToken(address)}`;
export const tapDeliverExplicitWildcard = (terminalId: string): string =>
  `tapgate.v${V}.tap.deliver.${terminalId}.*`;
export const tapDeliverImplicitWildcard = (address: string): string =>
  `tapgate.v${V}.tap.deliver.*.${addressToken(address)}`;

/**
 * A gateway started answering deliveries for a terminal (explicit binding group) or a source address
 * token (implicit group). Endpoints' gateways remember how many groups answered a terminal's last tap so
 * that they stop collecting acks once that many have settled; this tells them to forget that number.
 */
export const NeaGroupAdded = z
  .object({
    v: z.literal(V),
    terminalId: TerminalId.optional(),
    addressToken: z.string().min(1).max(100).optional(),
  })
  .strict();
export type NeaGroupAdded = z.infer<typeof NeaGroupAdded>;
export const NeaGroupsChanged = contract(`tapgate.v${V}.nea.group.added`, NeaGroupAdded);

// ----- presence ------------------------------------------------------------------------------------

export const AdvertBatch = z
  .object({
    v: z.literal(V),
    terminalId: TerminalId,
    adverts: z.array(Advert).min(1).max(256),
    receivedAt: IsoTime,
  })
  .strict();
export type AdvertBatch = z.infer<typeof AdvertBatch>;

/** Endpoint adverts relayed by gateways; one presence replica in the queue group handles each batch. */
export const PresenceAdverts = contract(`tapgate.v${V}.presence.adverts`, AdvertBatch, 'presence');

export const PresenceLevel = z.enum(['yes', 'likely', 'unlikely', 'no']);
export type PresenceLevel = z.infer<typeof PresenceLevel>;

export const BandPresence = z
  .object({
    bandId: BandId,
    presence: PresenceLevel,
    authenticated: z.boolean(),
    /** Terminals that saw the band recently, strongest smoothed RSSI first. */
    terminals: z.array(z.object({ terminalId: TerminalId, rssi: z.number() }).strict()),
    lastSeen: IsoTime.optional(),
  })
  .strict();
export type BandPresence = z.infer<typeof BandPresence>;

export const PresenceQuery = z.object({ v: z.literal(V), bandId: BandId }).strict();
export const PresenceAnswer = z
  .object({ v: z.literal(V), known: z.boolean(), band: BandPresence.optional() })
  .strict();
export type PresenceAnswer = z.infer<typeof PresenceAnswer>;
export const PresenceGet = request(`tapgate.v${V}.presence.get`, PresenceQuery, PresenceAnswer, 'presence');

export const PresenceChange = z
  .object({
    v: z.literal(V),
    terminalId: TerminalId,
    before: BandPresence.optional(),
    after: BandPresence,
    at: IsoTime,
  })
  .strict();
export type PresenceChange = z.infer<typeof PresenceChange>;
export const PresenceChanged = contract(`tapgate.v${V}.presence.changed.>`, PresenceChange);
export const presenceChangedSubject = (terminalId: string): string =>
  `tapgate.v${V}.presence.changed.${terminalId}`;

// ----- user status ---------------------------------------------------------------------------------

export const UserRef = z.union([
  z.object({ sAMAccountName: SamAccountName }).strict(),
  z.object({ userPrincipalName: z.string().min(3).max(256) }).strict(),
]);
export type UserRef = z.infer<typeof UserRef>;

/**
 * A user name as one token, `sam:<lower>` or `upn:<lower>`: AD compares account names case-insensitively,
 * so this is what says two references name the same account (user-status's cache keys, the gateways'
 * status memory).
 */
export function userNameToken(ref: UserRef): string {
  return 'sAMAccountName' in ref
    ? `sam:${ref.sAMAccountName.toLowerCase()}`
    : `upn:${ref.userPrincipalName.toLowerCase()}`;
}

export const StatusQuery = z
  .object({
    v: z.literal(V),
    user: UserRef,
    /**
     * The directory object an enrollment is bound to. When given, the status is that object's (found by
     * GUID, so a rename keeps working and `user` in the answer carries its current name and DN); the
     * answer is `not_found` when the object is gone and `identity_changed` when `user` now names another
     * object.
     */
    objectGUID: ObjectGuid.optional(),
  })
  .strict();
export type StatusQuery = z.infer<typeof StatusQuery>;

export const StatusAnswer = z
  .object({
    v: z.literal(V),
    status: UserStatus,
    user: DecisionUser.optional(),
    /** The directory attributes the status was computed from, as strings. */
    evidence: z.record(z.string(), z.string()),
    source: z.enum(['cache', 'directory', 'none']),
    /** When the directory was read (for cached answers, when the entry was filled). */
    checkedAt: IsoTime,
    message: z.string().optional(),
    /** The user's AD groups (memberOf DNs; plain names from a file directory), for group policies. */
    groups: z.array(z.string().max(1024)).max(1000).optional(),
    /** The account's immutable identity (absent for not_found and identity_changed). */
    directoryObject: z
      .object({ objectGUID: ObjectGuid, objectSid: ObjectSid.optional() })
      .strict()
      .optional(),
    /**
     * Only when the query carried the header ACCEPTS_STATUS_REUSE (replicas from before readers tolerated
     * unknown fields refuse an answer with it, docs/protocol.md §11), and only on an `active` answer
     * that user-status would itself serve from its cache for `forMs` more: the
     * asker may answer the same query (same name, same objectGUID) from memory that long, counted from
     * when it sent the query, while its policies bucket is at `policyRevision` (the revision user-status
     * applied) and no UserStatusInvalidated came (docs/architecture.md, "The gateway's status memory").
     */
    reuse: z
      .object({
        forMs: z.number().int().positive(),
        policyRevision: z.number().int().nonnegative(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type StatusAnswer = z.infer<typeof StatusAnswer>;

/**
 * A UserStatusGet request header: the asker reads StatusAnswer.reuse. Sent by the gateways' status memory;
 * without it user-status leaves the field out.
 */
export const ACCEPTS_STATUS_REUSE = 'Tapgate-Accepts-Reuse';

export const UserStatusGet = request(
  `tapgate.v${V}.userstatus.get`,
  StatusQuery,
  StatusAnswer,
  'user-status',
);
export const UserStatusInvalidate = request(
  `tapgate.v${V}.userstatus.invalidate`,
  z.object({ v: z.literal(V), user: UserRef }).strict(),
  z.object({ v: z.literal(V), removed: z.boolean() }).strict(),
  'user-status',
);
/**
 * Published by user-status after it removed a user's cached status (admin API, CLI): whoever keeps
 * status answers in memory (the gateways) forgets them.
 */
export const UserStatusInvalidated = contract(
  `tapgate.v${V}.userstatus.invalidated`,
  z.object({ v: z.literal(V), user: UserRef, at: IsoTime }).strict(),
);

// ----- endpoint lifecycle (for the console and the audit trail) -----------------------------------

export const EndpointLifecycle = z
  .object({
    v: z.literal(V),
    terminalId: TerminalId,
    event: z.enum(['online', 'offline']),
    address: z.string(),
    gateway: z.string(),
    at: IsoTime,
  })
  .strict();
export type EndpointLifecycle = z.infer<typeof EndpointLifecycle>;
export const EndpointEvents = contract(`tapgate.v${V}.endpoint.lifecycle`, EndpointLifecycle);

// ----- gateway connections (for the console's Terminals page) -------------------------------------

/** One endpoint socket a gateway holds now. */
export const ConnectedEndpoint = z
  .object({
    terminalId: TerminalId,
    address: z.string().max(100),
    since: IsoTime,
    /** What the endpoint said it runs in its hello (absent for endpoints that do not say). */
    software: Software.optional(),
  })
  .strict();
export type ConnectedEndpoint = z.infer<typeof ConnectedEndpoint>;

/** One NEA socket a gateway holds now, with what it is bound to. */
export const BoundApplication = z
  .object({
    binding: z.enum(['explicit', 'implicit']),
    /** Explicit binding: the terminal. */
    terminalId: TerminalId.optional(),
    /** The socket's source address; for an implicit binding, the endpoint address it is bound to. */
    address: z.string().max(100),
    /** The registered application it authenticated as, if any. */
    applicationId: z.string().max(256).optional(),
    /** What the client said it is in its hello. */
    app: Software.optional(),
    since: IsoTime,
  })
  .strict();
export type BoundApplication = z.infer<typeof BoundApplication>;

/**
 * Most sockets of each kind one answer lists: the answer must fit a NATS message (1 MB by default) while
 * a replica may hold 20,000 sockets. A replica holding more says `truncated`.
 */
export const MAX_LISTED_CONNECTIONS = 2_000;

export const GatewayConnectionsAnswer = z
  .object({
    v: z.literal(V),
    gateway: z.string(),
    endpoints: z.array(ConnectedEndpoint).max(MAX_LISTED_CONNECTIONS),
    applications: z.array(BoundApplication).max(MAX_LISTED_CONNECTIONS),
    /** This replica holds more sockets than it listed. */
    truncated: z.boolean().optional(),
  })
  .strict();
export type GatewayConnectionsAnswer = z.infer<typeof GatewayConnectionsAnswer>;

/**
 * Every gateway replica answers (no queue group) with the endpoints and NEA clients it holds; the
 * policy service collects the answers (requestAll) for the Terminals page. No responders: no gateway runs.
 */
export const GatewayConnections = request(
  `tapgate.v${V}.gateway.connections`,
  z.object({ v: z.literal(V) }).strict(),
  GatewayConnectionsAnswer,
);

// ----- administrator changes (policy service; a JetStream stream, read by the console's Audit page) ----

export const AdminAuditRecord = z
  .object({
    v: z.literal(V),
    at: IsoTime,
    /** Who: the administrator's sAMAccountName, or the break-glass name. */
    actor: z.string().max(256),
    via: z.enum(['session', 'bearer', 'break-glass']),
    /** What: e.g. "policy.update", "enrollment.suspend", "admin.login", "admin.login_failed". */
    action: z.string().max(64),
    target: z
      .object({ type: z.string().max(32), id: z.string().max(256) })
      .strict()
      .optional(),
    before: z.unknown().optional(),
    after: z.unknown().optional(),
    /** The client's address, for logins. */
    from: z.string().max(64).optional(),
  })
  .strict();
export type AdminAuditRecord = z.infer<typeof AdminAuditRecord>;
export const AdminAudit = contract(`tapgate.v${V}.admin.audit`, AdminAuditRecord);
export const ADMIN_AUDIT_STREAM = 'TAPGATE_ADMIN_AUDIT';

// ----- tap outcomes (for the console's Terminals page and dashboards) ------------------------------

export const TapOutcome = z
  .object({
    v: z.literal(V),
    terminalId: TerminalId,
    tapId: z.string(),
    kind: TapKind,
    bandId: BandId.optional(),
    decision: TapDecision,
    deliveredTo: z.number().int().nonnegative(),
    gateway: z.string(),
    at: IsoTime,
  })
  .strict();
export type TapOutcome = z.infer<typeof TapOutcome>;
/** Every decided tap, published by the endpoint's gateway after the endpoint was answered. */
export const TapDecided = contract(`tapgate.v${V}.tap.decided`, TapOutcome);

// ----- JetStream KV buckets (names are part of the contract too) ------------------------------------
export const KvBuckets = {
  enrollments: 'tapgate_enrollments',
  policies: 'tapgate_policies',
  terminals: 'tapgate_terminals',
  /** What each gateway and user-status replica runs with before any policy (ServiceBaseline). */
  policyBaselines: 'tapgate_policy_baselines',
  /** Administrator sessions of the policy service (key: SHA-256 of the session token; TTL = session). */
  adminSessions: 'tapgate_admin_sessions',
  /** NEA applications and their hashed credentials (policy service writes, gateways watch). */
  applications: 'tapgate_applications',
  /**
   * Which login / ceremony a granted tap was used for (key: `<login|esign>.<hex sha256(terminalId \n tapId)>`). The
   * first replica to `create` the key wins, so one tap logs in at most one application and signs at
   * most one ceremony even when several replicas hold NEA sockets of the terminal. TTL: TAP_CLAIM_TTL_MS.
   */
  tapClaims: 'tapgate_tap_claims',
  /**
   * E-signature ceremonies open on some replica (key: ceremony id, value: OpenCeremonyRecord). Deleted
   * (with the expected revision) by whoever writes the closing record, so a ceremony whose gateway died
   * is closed as `abandoned` exactly once, by any replica's janitor.
   */
  openCeremonies: 'tapgate_open_ceremonies',
  /** Enrollment-by-tap sessions, one key per terminal (EnrollmentSessionRecord; policy service only). */
  enrollmentSessions: 'tapgate_enrollment_sessions',
} as const;

/** How long a tap claim is kept: far beyond any decision's life (challenges live 30 s by default). */
export const TAP_CLAIM_TTL_MS = 10 * 60_000;

export const OpenCeremonyRecord = z
  .object({
    v: z.literal(V),
    ceremonyId: z.string().min(1).max(64),
    terminalId: TerminalId,
    gateway: z.string().max(256),
    reason: z.string().max(512),
    audience: z.string().max(256),
    secondSignerRequired: z.boolean(),
    recordHash: z.string().max(128).optional(),
    /** After this, the ceremony has expired; a janitor closes it as `abandoned` if its gateway did not. */
    deadline: IsoTime,
  })
  .strict();
export type OpenCeremonyRecord = z.infer<typeof OpenCeremonyRecord>;
