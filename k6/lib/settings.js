// Reads a scenario's settings from the environment (k6 passes it as __ENV) and rejects bad values with a
// message naming the variable, before any socket opens. Pure: tests/deploy runs it under Node.

const DURATION_UNITS = { ms: 1, s: 1000, m: 60000, h: 3600000 };

/** "90s", "5m", "1h30m", "250ms" -> milliseconds. */
export function parseDuration(name, text) {
  const parts = String(text).match(/(\d+(?:\.\d+)?)(ms|s|m|h)/g);
  if (!parts || parts.join('') !== String(text)) {
    throw new Error(name + ' must be a duration such as 90s, 5m or 1h30m (got "' + text + '")');
  }
  let ms = 0;
  for (const part of parts) {
    const [, amount, unit] = part.match(/(\d+(?:\.\d+)?)(ms|s|m|h)/);
    ms += Number(amount) * DURATION_UNITS[unit];
  }
  if (ms <= 0) throw new Error(name + ' must be longer than 0 (got "' + text + '")');
  return Math.round(ms);
}

function positiveInt(name, text, fallback) {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(name + ' must be a positive integer (got "' + text + '")');
  return n;
}

function positiveNumber(name, text, fallback) {
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(name + ' must be a positive number (got "' + text + '")');
  return n;
}

function httpUrl(name, text, fallback) {
  const url = text === undefined || text === '' ? fallback : String(text);
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(url)) {
    throw new Error(name + ' must be an http:// or https:// URL (got "' + url + '")');
  }
  return url.replace(/\/+$/, '');
}

function wsUrl(name, text, fallback) {
  const url = text === undefined || text === '' ? fallback : String(text);
  if (!/^wss?:\/\/[^/\s]+(\/\S*)?$/.test(url)) {
    throw new Error(name + ' must be a ws:// or wss:// URL (got "' + url + '")');
  }
  return url.replace(/\/+$/, '');
}

/**
 * Common settings. `defaults` holds each scenario's own defaults for ENDPOINTS, RATE and DURATION.
 * TAPGATE_URL is the standard interface (endpoints connect to its /socket/websocket); NEA_URL defaults to
 * it and may point at the WebAPI interface (e.g. ws://127.0.0.1:4443).
 */
export function readSettings(env, defaults) {
  const url = wsUrl('TAPGATE_URL', env.TAPGATE_URL, 'ws://127.0.0.1:9120');
  const prefix = env.TERMINAL_PREFIX || 'k6';
  if (!/^[A-Za-z0-9_-]{1,40}$/.test(prefix)) {
    throw new Error('TERMINAL_PREFIX must be 1-40 of A-Z a-z 0-9 _ - (got "' + prefix + '")');
  }
  const settings = {
    url: url,
    neaUrl: wsUrl('NEA_URL', env.NEA_URL, url),
    endpoints: positiveInt('ENDPOINTS', env.ENDPOINTS, defaults.endpoints),
    rate: positiveNumber('RATE', env.RATE, defaults.rate),
    durationMs: parseDuration('DURATION', env.DURATION || defaults.duration),
    terminalsPerVu: positiveInt('TERMINALS_PER_VU', env.TERMINALS_PER_VU, 50),
    tapTimeoutMs: positiveInt('TAP_TIMEOUT_MS', env.TAP_TIMEOUT_MS, 2000),
    drainMs: parseDuration('DRAIN', env.DRAIN || '3s'),
    prefix: prefix,
    // JSON object {terminalId: credential} for gateways that require endpoint credentials.
    credentialsFile: env.CREDENTIALS_FILE || undefined,
    // The application credential NEA clients bind with (explicit binding needs one); with an admin
    // token, setup() registers the application itself.
    appCredential: env.APP_CREDENTIAL || undefined,
    // With an admin token, setup() registers the terminals and enrolls one band per terminal through
    // the policy REST API, so taps carry proofs and can be granted (docs/operations.md, "Load tests").
    adminToken: env.TAPGATE_ADMIN_TOKEN || undefined,
    policyUrl: httpUrl('TAPGATE_POLICY_URL', env.TAPGATE_POLICY_URL, 'http://127.0.0.1:8080'),
    userPrefix: env.USER_PREFIX || 'k6user',
    setupConcurrency: positiveInt('SETUP_CONCURRENCY', env.SETUP_CONCURRENCY, 16),
  };
  if (settings.adminToken && settings.credentialsFile) {
    throw new Error('set TAPGATE_ADMIN_TOKEN or CREDENTIALS_FILE, not both (setup issues the credentials)');
  }
  // sAMAccountName: at most 20 characters; the longest is the prefix plus the last index.
  const longestUser = settings.userPrefix + String(settings.endpoints - 1);
  if (!/^[A-Za-z0-9._-]{1,20}$/.test(longestUser)) {
    throw new Error(
      'USER_PREFIX + index must be 1-20 of A-Z a-z 0-9 . _ - (got "' + longestUser + '" at ENDPOINTS)',
    );
  }
  settings.vus = Math.ceil(settings.endpoints / settings.terminalsPerVu);
  return settings;
}
