/** Windows FILETIME: 100-nanosecond intervals since 1601-01-01T00:00:00Z, as AD stores it (decimal text). */
const EPOCH_DIFF_MS = 11_644_473_600_000n;

/** accountExpires = 2^63-1 means "never" (so does 0). */
export const FILETIME_NEVER = 9_223_372_036_854_775_807n;

export function dateToFileTime(d: Date): bigint {
  return (BigInt(d.getTime()) + EPOCH_DIFF_MS) * 10_000n;
}

export function fileTimeToDate(ft: bigint): Date {
  return new Date(Number(ft / 10_000n - EPOCH_DIFF_MS));
}

/** Parses AD's decimal integer text strictly; undefined for anything else (missing, blank, "12abc", "1e5"). */
export function parseAdInteger(text: string | undefined): bigint | undefined {
  if (text === undefined || !/^-?\d{1,20}$/.test(text.trim())) return undefined;
  return BigInt(text.trim());
}
