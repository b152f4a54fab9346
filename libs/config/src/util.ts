/** Drops keys whose value is undefined, so optional settings are absent rather than present-but-empty. */
export function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** A host name turned into 1-64 of A-Z a-z 0-9 _ - (safe as a NATS subject token). */
export function subjectSafeName(name: string, fallback: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64);
  return safe === '' ? fallback : safe;
}
