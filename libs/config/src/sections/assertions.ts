import { ASSERTION_MAX_LIFETIME_SECONDS } from '@tapgate/contracts';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { isAbsolute, resolve } from 'node:path';
import { integer, InvalidValue, text, type Field } from '../fields';
import { defineSection, type SectionContext } from '../section';

export interface SigningKeySource {
  file: string;
  /** The private key (PEM or JWK text). Secret: never log it (redactConfig hides `key`). */
  key: string;
}

export interface AssertionsSettings {
  /** The first signs; all are published in the JWKS. Empty: login and e-signature cannot be offered. */
  signingKeys: SigningKeySource[];
  issuer: string;
  ttlSeconds: number;
}

/** File paths: a TOML array resolved against the file's folder, or comma-separated (against the cwd). */
function pathList(): Field<string[]> {
  const check = (items: unknown[], baseDir: string): string[] =>
    items.map((v, i) => {
      if (typeof v !== 'string' || v === '' || v.includes('\0')) {
        throw new InvalidValue(`entry ${i + 1} must be a file path`);
      }
      return isAbsolute(v) ? v : resolve(baseDir, v);
    });
  return {
    expects: 'a list of file paths',
    defaultText: '[]',
    defaultValue: () => [],
    fromToml: (v, baseDir) => {
      if (!Array.isArray(v)) throw new InvalidValue();
      return check(v, baseDir);
    },
    fromEnv: (t) =>
      check(
        t
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
        process.cwd(),
      ),
  };
}

type Key = 'signing_key_files';

/** Reads one key file and checks it is an unencrypted EC P-256 private key; returns its public x||y. */
function checkSigningKey(at: SectionContext<Key>, file: string): { key: string; publicId: string } {
  const key = at.readFile('signing_key_files', file);
  const trimmed = key.trim();
  let problem: string | undefined;
  let publicId = '';
  try {
    const pk = trimmed.startsWith('{')
      ? createPrivateKey({ key: JSON.parse(trimmed) as import('node:crypto').JsonWebKey, format: 'jwk' })
      : createPrivateKey({ key: trimmed, format: 'pem' });
    if (pk.asymmetricKeyType !== 'ec' || pk.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      problem = 'is not an EC P-256 key (ES256 needs one; create one with `cli.js new-key`)';
    } else {
      const jwk = createPublicKey(pk).export({ format: 'jwk' });
      publicId = `${jwk.x}.${jwk.y}`;
    }
  } catch {
    problem = 'is not an unencrypted EC private key in PEM or JWK form';
  }
  if (problem) throw at.error('signing_key_files', `${file} ${problem}`);
  return { key, publicId };
}

/** [assertions]: how the gateway signs login and e-signature assertions (JWS, ES256). */
export const assertionsSection = defineSection({
  name: 'assertions',
  summary: 'signed login/e-signature assertions: signing keys (first signs, all published), issuer, lifetime',
  fields: {
    signing_key_files: pathList(),
    issuer: text({
      default: 'tapgate',
      validate: (v) => (v.length > 256 ? 'must be at most 256 characters' : undefined),
    }),
    ttl_seconds: integer({ default: 60, min: 5, max: ASSERTION_MAX_LIFETIME_SECONDS }),
  },
  build(v, at): AssertionsSettings {
    const seen = new Map<string, string>();
    const signingKeys = v.signing_key_files.map((file) => {
      const { key, publicId } = checkSigningKey(at, file);
      const twin = seen.get(publicId);
      if (twin !== undefined) throw at.error('signing_key_files', `${file} holds the same key as ${twin}`);
      seen.set(publicId, file);
      return { file, key };
    });
    return { signingKeys, issuer: v.issuer, ttlSeconds: v.ttl_seconds };
  },
});
