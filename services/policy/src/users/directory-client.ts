import { Client } from 'ldapts';
import type { AdminDirectorySettings } from '../policy-settings';

/**
 * A connection to the [ldap] directory (TLS 1.2 or newer; StartTLS when configured), not yet bound: the
 * one way the policy service reaches Active Directory (administrator login, the Users page).
 */
export async function openDirectory(dir: AdminDirectorySettings): Promise<Client> {
  const client = new Client({
    url: dir.url,
    timeout: dir.timeoutMs,
    connectTimeout: dir.timeoutMs,
    tlsOptions: { ca: dir.ca, minVersion: 'TLSv1.2' },
  });
  if (dir.startTls) await client.startTLS({ ca: dir.ca, minVersion: 'TLSv1.2' });
  return client;
}

/** Runs `fn` with a client bound as the service account, and unbinds whatever happens. */
export async function withServiceAccount<T>(
  dir: AdminDirectorySettings,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const client = await openDirectory(dir);
  try {
    await client.bind(dir.bind.dn, dir.bind.password);
    return await fn(client);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}

/** A single-valued attribute as text (ldapts gives a string, a list, or a Buffer). */
export function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

/** A multi-valued attribute as text values. */
export function texts(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** The directory's time limit for one search, in whole seconds (at least 1). */
export const timeLimitSeconds = (dir: AdminDirectorySettings): number =>
  Math.max(1, Math.ceil(dir.timeoutMs / 1000));
