import { z } from 'zod';

// Terminal and band ids travel inside NATS subjects, so they are restricted to characters that are
// valid in a single subject token. Changing these patterns is a wire-protocol change.
export const TERMINAL_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const BAND_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const TerminalId = z.string().regex(TERMINAL_ID_PATTERN, 'terminal id: 1-64 of A-Z a-z 0-9 _ -');
export const BandId = z.string().regex(BAND_ID_PATTERN, 'band id: 1-64 of A-Z a-z 0-9 _ -');
/**
 * An NFC badge UID as the reader reports it: ISO/IEC 14443-3 UIDs are 4, 7 or 10 bytes (single, double,
 * triple size), written as 8, 14 or 20 hex digits. Enrolled UID badges are keyed `uid-<lower-case hex>`.
 */
export const BADGE_UID_PATTERN = /^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$/;
export const BadgeUid = z
  .string()
  .regex(BADGE_UID_PATTERN, 'badge UID: 4, 7 or 10 bytes as 8, 14 or 20 hex digits');
/** The band id a UID badge is enrolled (and looked up) under. */
export const badgeBandId = (uid: string): string => `uid-${uid.toLowerCase()}`;
/**
 * An enrollment session id: bands sign it, so it must never hold the proof's field separator ("\n").
 */
export const EnrollmentSessionId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,64}$/, 'enrollment session id: 8-64 of A-Z a-z 0-9 _ -');
/** Client-chosen correlation reference, echoed in the reply. */
export const Ref = z.string().min(1).max(64);
export const IsoTime = z.iso.datetime({ offset: true });
/** base64url without padding. */
export const Base64Url = z.string().regex(/^[A-Za-z0-9_-]*$/, 'base64url without padding');
/**
 * sAMAccountName: AD allows at most 20 characters and forbids these: " / \ [ ] : ; | = , + * ? < >.
 * Control and invisible characters are refused too: Samba's LDAP search stops at NUL ("tgadmin\0" found
 * tgadmin), and a zero-width character makes a name that looks like another.
 */
export const SamAccountName = z
  .string()
  .min(1)
  .max(20)
  .regex(
    /^[^"/\\[\]:;|=,+*?<>\s@\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u,
    'sAMAccountName: at most 20 characters, none of " / \\ [ ] : ; | = , + * ? < > @, spaces or control characters',
  );

/**
 * An Active Directory objectGUID in the text form AD tools print (lower case, no braces). Immutable for
 * the object's life and never reused: enrollments are bound to it, not to the account name.
 */
export const ObjectGuid = z
  .string()
  .regex(
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    'objectGUID: lower-case xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx',
  );
/** An objectSid as S-1-5-21-…, kept as evidence beside the objectGUID. */
export const ObjectSid = z.string().regex(/^S-1-\d+(-\d+){1,15}$/, 'objectSid: S-1-…');

/**
 * Normalises a socket's remote address for binding and subjects: IPv4-mapped IPv6 becomes plain IPv4,
 * and the characters that NATS uses as token separators are replaced.
 */
export function addressToken(address: string): string {
  const plain = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
  return plain.replace(/[.:%]/g, '_').toLowerCase();
}
