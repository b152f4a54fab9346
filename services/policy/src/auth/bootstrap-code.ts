import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Where PolicyAppModule finds the code (`code` unset when [policy].bootstrap_admin_file is not). */
export const BOOTSTRAP_ADMIN = Symbol('BOOTSTRAP_ADMIN');
export interface BootstrapAdmin {
  code?: BootstrapAdminCode;
}

/** The actor name recorded for everything done with a bootstrap administrator session. */
export const BOOTSTRAP_ADMIN_NAME = 'bootstrap-admin';

/**
 * The one-time sign-in code of the bootstrap administrator ([policy].bootstrap_admin_file), as Keycloak
 * and Jenkins create their first administrator: made at start-up, written once to a file only the
 * service account can read (mode 0600; never logged), kept here only as its SHA-256, valid for
 * `ttlMs`, and usable once. `consume` checks and spends the code in one synchronous step, so two
 * concurrent exchanges cannot both succeed. In memory: the code is valid on the replica that wrote it,
 * and a restart makes a new one (the old one dies with the process).
 */
export class BootstrapAdminCode {
  private hash: Buffer | undefined;
  private readonly expiresAt: number;

  private constructor(
    private readonly file: string,
    code: string,
    ttlMs: number,
    private readonly now: () => number,
  ) {
    this.hash = digest(code);
    this.expiresAt = now() + ttlMs;
  }

  /** Makes a code, writes it to `file` (replacing any earlier one) and returns the verifier. */
  static issue(file: string, ttlMs: number, now: () => number = Date.now): BootstrapAdminCode {
    // 20 random bytes: 32 base32-like characters, short enough to type, far beyond guessing.
    const code = randomBytes(20).toString('base64url');
    mkdirSync(dirname(file), { recursive: true });
    rmSync(file, { force: true }); // a fresh file, so the mode below applies even if one existed
    writeFileSync(file, `${code}\n`, { mode: 0o600 });
    return new BootstrapAdminCode(file, code, ttlMs, now);
  }

  get expiry(): Date {
    return new Date(this.expiresAt);
  }

  /** Whether the code can still be used (not spent, not expired). */
  get live(): boolean {
    return this.hash !== undefined && this.now() < this.expiresAt;
  }

  /** True once for the right code within its lifetime; false for anything else, and ever after. */
  consume(code: string): boolean {
    const expected = this.hash;
    if (!expected || this.now() >= this.expiresAt) return false;
    if (!timingSafeEqual(digest(code), expected)) return false;
    this.hash = undefined;
    rmSync(this.file, { force: true }); // spent: nothing left worth reading
    return true;
  }
}
