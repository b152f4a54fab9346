import { BandId, SamAccountName } from '@tapgate/contracts';
import { z } from 'zod';

/** A band public key as the API accepts it: PEM SPKI, base64url raw point (strings) or a JWK (object). */
export const PublicKeyInput = z.union([z.string().min(1).max(8192), z.record(z.string(), z.unknown())]);

export const EnrollRequest = z
  .object({
    bandId: BandId,
    user: z.object({ sAMAccountName: SamAccountName }).strict(),
    publicKey: PublicKeyInput,
  })
  .strict();
export type EnrollRequest = z.infer<typeof EnrollRequest>;

/** POST /v1/enrollments/{bandId}/binding: `{}` follows the bound object; a name re-enrolls to that account. */
export const RebindRequest = z
  .object({ user: z.object({ sAMAccountName: SamAccountName }).strict().optional() })
  .strict();

export const RekeyRequest = z.object({ publicKey: PublicKeyInput }).strict();

export const EnrollmentQuery = z
  .object({ user: SamAccountName.optional(), band: BandId.optional() })
  .strict();
