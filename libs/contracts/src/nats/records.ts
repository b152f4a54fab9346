import { z } from 'zod';
import { BandId, IsoTime, SamAccountName, TerminalId } from '../ids';

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
      })
      .strict(),
    publicKey: BandPublicJwk,
    /** The guide's "Is Active": false = suspended, no taps. */
    active: z.boolean(),
    created: Actor,
    updated: Actor,
  })
  .strict();
export type EnrollmentRecord = z.infer<typeof EnrollmentRecord>;

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
    created: Actor,
    updated: Actor,
  })
  .strict();
export type TerminalRecord = z.infer<typeof TerminalRecord>;
