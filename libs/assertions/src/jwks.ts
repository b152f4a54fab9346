import { createPublicKey, type KeyObject } from 'node:crypto';
import { AssertionError } from './errors';

export interface RemoteJwksOptions {
  /** How long a fetched JWKS is used before it is fetched again. Default 10 min. */
  maxAgeMs?: number;
  /** Least time between fetches caused by an unknown kid (rotation), so forged kids cannot flood. Default 5 s. */
  refreshCooldownMs?: number;
  timeoutMs?: number;
  /** Defaults to the global fetch; pass one with a custom dispatcher for a private CA. */
  fetch?: typeof fetch;
  now?: () => number;
}

const MAX_JWKS_BYTES = 256 * 1024;

/** Accepts only what Tapgate signs with: EC P-256 keys for ES256, with a kid. */
function importKey(jwk: unknown): [string, KeyObject] | undefined {
  if (typeof jwk !== 'object' || jwk === null) return undefined;
  const k = jwk as Record<string, unknown>;
  if (k.kty !== 'EC' || k.crv !== 'P-256' || typeof k.kid !== 'string' || k.kid === '') return undefined;
  if (k.alg !== undefined && k.alg !== 'ES256') return undefined;
  if (k.use !== undefined && k.use !== 'sig') return undefined;
  if (typeof k.x !== 'string' || typeof k.y !== 'string' || k.d !== undefined) return undefined;
  try {
    return [k.kid, createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: k.x, y: k.y }, format: 'jwk' })];
  } catch {
    return undefined;
  }
}

/**
 * The platform's JWKS, fetched on first use, cached for maxAgeMs, and fetched again early when a token
 * names a kid it does not hold (the platform started signing with a new key). Failures never fall back
 * to an expired copy: an unreachable JWKS means no assertion verifies.
 */
export class RemoteJwks {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private inflight: Promise<void> | undefined;
  private readonly maxAgeMs: number;
  private readonly cooldownMs: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;

  constructor(
    readonly url: string,
    opts: RemoteJwksOptions = {},
  ) {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
      throw new TypeError(`JWKS URL must be http(s): ${url}`);
    }
    this.maxAgeMs = opts.maxAgeMs ?? 600_000;
    this.cooldownMs = opts.refreshCooldownMs ?? 5_000;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.fetchFn = opts.fetch ?? fetch;
    this.now = opts.now ?? Date.now;
  }

  /** The public key for `kid`; throws AssertionError unknown_key or jwks_unavailable. */
  async key(kid: string): Promise<KeyObject> {
    if (this.now() - this.fetchedAt > this.maxAgeMs) {
      await this.refresh();
    } else if (!this.keys.has(kid) && this.now() - this.attemptedAt >= this.cooldownMs) {
      await this.refresh();
    }
    const key = this.keys.get(kid);
    if (!key) throw new AssertionError('unknown_key', `no key "${kid.slice(0, 64)}" in the JWKS`);
    return key;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.now();
    let body: unknown;
    try {
      const res = await this.fetchFn(this.url, {
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: { accept: 'application/json' },
        redirect: 'error',
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      if (text.length > MAX_JWKS_BYTES) throw new Error('response too large');
      body = JSON.parse(text);
    } catch (e) {
      // A stale copy is dropped once past its age: revoking a key must not depend on the JWKS staying up.
      if (this.now() - this.fetchedAt > this.maxAgeMs) this.keys = new Map();
      const why = e instanceof Error ? e.message : String(e);
      throw new AssertionError('jwks_unavailable', `cannot fetch ${this.url}: ${why}`);
    }
    const list = (body as { keys?: unknown })?.keys;
    if (!Array.isArray(list)) {
      throw new AssertionError('jwks_unavailable', `${this.url} did not return a JWKS ({"keys": [...]})`);
    }
    const keys = new Map<string, KeyObject>();
    for (const jwk of list) {
      const entry = importKey(jwk);
      if (entry) keys.set(entry[0], entry[1]);
    }
    this.keys = keys;
    this.fetchedAt = this.now();
  }
}
