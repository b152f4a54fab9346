import { CertificateSha256, TerminalId } from '@tapgate/contracts';
import { z } from 'zod';

export const CreateTerminalRequest = z
  .object({ terminalId: TerminalId, description: z.string().max(256).optional() })
  .strict();
export type CreateTerminalRequest = z.infer<typeof CreateTerminalRequest>;

/**
 * Pinned client-certificate fingerprints as an operator copies them: `openssl x509 -noout -fingerprint
 * -sha256` prints `AB:CD:…`; colons and case are accepted and stored as lowercase hex.
 */
const Fingerprint = z
  .string()
  .max(100)
  .transform((v) => v.replaceAll(':', '').trim().toLowerCase())
  .pipe(CertificateSha256);

export const CertificatePinsRequest = z
  .object({
    certificateSha256: z
      .array(Fingerprint)
      .max(8)
      .refine((a) => new Set(a).size === a.length, 'lists a fingerprint twice'),
  })
  .strict();
export type CertificatePinsRequest = z.infer<typeof CertificatePinsRequest>;
