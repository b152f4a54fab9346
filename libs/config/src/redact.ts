// `key` is TlsMaterial's private key; the rest match adminToken, password, credential and the like.
const isSecretKey = (key: string) => key === 'key' || /(token|password|credential|secret)$/i.test(key);

/**
 * A copy of a loaded config that is safe to log: secrets (tokens, passwords, credentials, private keys)
 * become "[redacted]", and PEM certificates are shortened to "[pem]".
 */
export function redactConfig<T>(config: T): T {
  const walk = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') {
      if (isSecretKey(key)) return '[redacted]';
      return value.includes('-----BEGIN ') ? '[pem]' : value;
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, ''));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    }
    return value;
  };
  return walk(config, '') as T;
}
