import { SamAccountName } from '@tapgate/contracts';
import { ApiError } from '../common/api-error';

/**
 * Characters that print nothing: C0 and C1 controls (NUL and DEL included), format characters (zero-width
 * space, joiners, marks, BOM, U+200B-U+200F, U+2060-U+2064, ...) and the line and paragraph separators
 * U+2028/U+2029. A name holding one could look like another name on screen, in the audit log or in a
 * directory that stops reading at NUL (Samba does: "tgadmin\0" found tgadmin).
 */
const NON_PRINTING = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export interface LoginName {
  /** What the directory is asked for: trimmed and in Unicode NFC, case as typed. */
  name: string;
  /** The rate-limit key: `name` in lower case (sAMAccountName compares case-insensitively). */
  key: string;
}

/**
 * The one normalisation of an administrator login name; every place that keys on a login name (the rate
 * limiter, the audit log, the directory search) takes its result. Refuses non-printing characters with a
 * 400 before anything else looks at the name, so such a name never reaches LDAP and never gets a bucket.
 */
export function parseLoginName(raw: string): LoginName {
  const bad = NON_PRINTING.exec(raw);
  if (bad) {
    const code = bad[0].codePointAt(0) ?? 0;
    throw new ApiError(
      'invalid_request',
      `username: contains a control or invisible character (U+${code.toString(16).toUpperCase().padStart(4, '0')})`,
      'username',
    );
  }
  const name = raw.trim().normalize('NFC');
  const parsed = SamAccountName.safeParse(name);
  if (!parsed.success) {
    throw new ApiError(
      'invalid_request',
      `username: ${parsed.error.issues[0]?.message ?? 'invalid'}`,
      'username',
    );
  }
  return { name, key: name.toLowerCase() };
}
