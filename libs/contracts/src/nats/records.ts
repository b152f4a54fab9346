import { z } from 'zod';
import { BadgeUid, BandId, IsoTime, ObjectGuid, ObjectSid, SamAccountName, TerminalId } from '../ids';

// Records stored in JetStream KV buckets (KvBuckets in subjects.ts). The policy service writes them;
// gateways and other services keep read caches fed by KV watches. Keys: the band id / terminal id.
// Additive changes only: old replicas must keep reading new records during a rolling upgrade.

/** A band's public key as an EC P-256 JWK (public part only). */
export const BandPublicJwk = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
    y: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  })
  .strip();
export type BandPublicJwk = z.infer<typeof BandPublicJwk>;

const Actor = z.object({ by: z.string().max(256), at: IsoTime }).strict();

export const EnrollmentRecord = z
  .object({
    v: z.literal(1),
    bandId: BandId,
    user: z
      .object({
        sAMAccountName: SamAccountName,
        dn: z.string().min(1).max(1024),
        displayName: z.string().max(256).optional(),
        /**
         * The directory object the band belongs to, resolved at enrollment. Taps are checked against it:
         * a renamed account keeps working, a deleted one is not_found, and a name now held by another
         * object is refused (identity_changed). Records written before this field existed have none and
         * are checked by name only until an administrator binds them (docs/operations.md).
         */
        objectGUID: ObjectGuid.optional(),
        /** The object's SID when it was bound, as evidence (not used to match). */
        objectSid: ObjectSid.optional(),
      })
      .strict(),
    /**
     * `band` (absent in records written before UID badges had their own kind): a band with its key.
     * `uid`: a plain NFC badge, keyed `uid-<hex>`, identified by its UID alone (no key, no proof of
     * possession). Replicas older than this field cannot read UID badge records and skip them.
     */
    kind: z.enum(['band', 'uid']).optional(),
    /** The badge UID, lower-case hex (kind `uid` only). */
    uid: BadgeUid.optional(),
    /** The band's key; absent for UID badges. */
    publicKey: BandPublicJwk.optional(),
    /** The guide's "Is Active": false = suspended, no taps. */
    active: z.boolean(),
    created: Actor,
    updated: Actor,
  })
  .strict()
  .refine(
    (r) =>
      r.kind === 'uid'
        ? r.uid !== undefined && r.publicKey === undefined && r.bandId === `uid-${r.uid}`
        : r.uid === undefined && r.publicKey !== undefined,
    { message: 'a band enrollment has a publicKey; a UID badge has its uid (band id uid-<uid>) and no key' },
  );
export type EnrollmentRecord = z.infer<typeof EnrollmentRecord>;

/**
 * A remote-session client (RDP, Citrix) as the session host reports it: its IP address, or its client
 * name (Windows CLIENTNAME / Citrix client name). Names compare case-insensitively, so they are stored
 * uppercase; addresses are stored as IPv4 dotted quads or lowercase IPv6.
 */
/** The header a trusted proxy names the session's client in (lowercase, as Node presents headers). */
export const REMOTE_CLIENT_NAME_HEADER = 'x-tapgate-client-name';
export const REMOTE_CLIENT_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
export const RemoteClientName = z
  .string()
  .regex(REMOTE_CLIENT_NAME_PATTERN, 'client name: 1-64 of A-Z a-z 0-9 . _ -')
  .transform((v) => v.toUpperCase());
export const RemoteClientAddress = z
  .string()
  .max(45)
  .transform((v, ctx) => {
    const normal = normalizeClientAddress(v);
    if (normal === undefined) {
      ctx.addIssue({ code: 'custom', message: 'client address: an IPv4 or IPv6 address' });
    }
    return normal ?? v;
  });
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
/**
 * The one normalization of a client address (API and gateway alike): IPv4 dotted quad; IPv6 in its
 * canonical compressed lowercase form (the URL parser's, available in browsers too); IPv4-mapped IPv6
 * becomes IPv4. Undefined for anything else.
 */
export function normalizeClientAddress(address: string): string | undefined {
  const a = address.trim();
  if (IPV4.test(a)) return a;
  if (!a.includes(':') || /[^0-9A-Fa-f:.]/.test(a)) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${a}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1], 16);
    const lo = parseInt(mapped[2], 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return host;
}
export const RemoteClients = z
  .object({
    addresses: z.array(RemoteClientAddress).max(16),
    names: z.array(RemoteClientName).max(16),
  })
  .strict()
  .refine((r) => new Set(r.addresses).size === r.addresses.length, 'lists an address twice')
  .refine((r) => new Set(r.names).size === r.names.length, 'lists a client name twice');
export type RemoteClients = z.infer<typeof RemoteClients>;

/** SHA-256 of a certificate's DER bytes, lowercase hex (what `X509Certificate.fingerprint256` shows, without colons). */
export const CertificateSha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const TerminalRecord = z
  .object({
    v: z.literal(1),
    terminalId: TerminalId,
    description: z.string().max(256).optional(),
    /**
     * SHA-256 (hex) of the terminal's credential. Credentials are 32 random bytes, so a fast hash is
     * enough; the credential itself is shown once when issued and never stored.
     * The hash is over the UTF-8 bytes of the credential text exactly as the endpoint sends it in `hello`
     * (the 43-character base64url string), not over the decoded bytes.
     */
    credentialSha256: z.string().regex(/^[0-9a-f]{64}$/),
    enabled: z.boolean(),
    /**
     * Pinned mTLS client certificates: SHA-256 (lowercase hex) of each certificate's DER bytes. When
     * present and non-empty, the terminal must connect with one of these certificates (a credential
     * alone is refused), so a stolen certificate is cut off by removing its pin, without replacing the
     * CA. Several pins allow a renewal overlap. Optional: records written before pins existed have none.
     */
    certificateSha256: z.array(CertificateSha256).max(8).optional(),
    /**
     * RDP/Citrix: the remote-session clients this terminal serves. An NEA client that binds implicitly
     * through a trusted proxy which reports one of these (client address in X-Forwarded-For, client name
     * in X-Tapgate-Client-Name) receives this terminal's taps (docs/protocol.md §4). Optional.
     */
    remoteClients: RemoteClients.optional(),
    created: Actor,
    updated: Actor,
  })
  .strict();
export type TerminalRecord = z.infer<typeof TerminalRecord>;

// ----- applications (NEA clients authorized to bind to terminals) -------------------------------------

/** Application ids name a KV key and appear in audit records: the same characters as terminal ids. */
export const APPLICATION_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const ApplicationId = z
  .string()
  .regex(APPLICATION_ID_PATTERN, 'application id: 1-64 of A-Z a-z 0-9 _ -');

/**
 * Which terminals an application may bind to: a terminal id, or a pattern in which `*` stands for any
 * run of terminal-id characters (`LINE1-*`, `*-PACK`, `*` for every terminal).
 */
export const TerminalPattern = z
  .string()
  .regex(/^[A-Za-z0-9_*-]{1,64}$/, 'terminal pattern: 1-64 of A-Z a-z 0-9 _ - and * (any run)');

/** True when `terminalId` is one of `patterns` (the one scope check: gateway, API and console use it). */
export function terminalInScope(patterns: readonly string[], terminalId: string): boolean {
  return patterns.some((p) =>
    p.includes('*')
      ? new RegExp(`^${p.split('*').join('[A-Za-z0-9_-]*')}$`).test(terminalId)
      : p === terminalId,
  );
}

export const ApplicationCredential = z
  .object({
    /** Names the credential in the API and the audit trail (never the secret). */
    credentialId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /**
     * SHA-256 (hex) over the UTF-8 text of the credential exactly as the application sends it in
     * `hello` (43 base64url characters of 32 random bytes); the credential itself is shown once.
     */
    credentialSha256: z.string().regex(/^[0-9a-f]{64}$/),
    created: Actor,
  })
  .strict();
export type ApplicationCredential = z.infer<typeof ApplicationCredential>;

/** At most this many live credentials per application: enough to rotate, few enough to review. */
export const MAX_APPLICATION_CREDENTIALS = 4;

export const ApplicationRecord = z
  .object({
    v: z.literal(1),
    applicationId: ApplicationId,
    displayName: z.string().min(1).max(128),
    /** Disabled: no new binding, and the gateways close its sockets. */
    enabled: z.boolean(),
    /** Terminal ids or patterns this application may bind to explicitly. */
    terminals: z.array(TerminalPattern).max(256),
    /** Every credential here is valid; rotation adds one, then revokes the old one. */
    credentials: z.array(ApplicationCredential).max(MAX_APPLICATION_CREDENTIALS),
    created: Actor,
    updated: Actor,
  })
  .strict();
export type ApplicationRecord = z.infer<typeof ApplicationRecord>;

/**
 * The client-certificate subject CN that identifies an application over mTLS: `app:<applicationId>`.
 * The `:` cannot occur in a terminal id, so an application certificate is never taken for a terminal's.
 */
export const APPLICATION_CERT_CN_PREFIX = 'app:';
