// Registers the scenario's terminals and enrolls one band per terminal through the policy REST API
// (docs/api.md), so the load test's taps carry proofs the gateway grants. Pure: the HTTP client and
// WebCrypto are passed in, so k6 (k6/http) and tests/deploy (fetch, under Node) run the same code.
import { bandIdFor, generateBandKey, terminalIdFor } from './protocol.js';

/** The directory account enrolled for terminal `index`; it must exist in the directory (file or AD). */
export function userFor(userPrefix, index) {
  return userPrefix + index;
}

/**
 * `request(method, url, body, headers)` resolves to {status, body} (body as text); `subtle` is WebCrypto's
 * SubtleCrypto. Resolves to {credentials: {terminalId: credential}, bandKeys: {bandId: private JWK},
 * appCredential} (the credential of application `<prefix>-nea`, scoped to `<prefix>-*`).
 * Re-running against the same platform works: an existing terminal gets a new credential, an existing
 * enrollment the new key (and is reactivated).
 */
export async function provisionTerminals(settings, request, subtle, delay) {
  if (!settings.adminToken) throw new Error('provisioning needs TAPGATE_ADMIN_TOKEN');
  const wait = delay || ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  const api = policyApi(settings, request, wait);
  const credentials = {};
  const bandKeys = {};
  const appCredential = await registerApplication(api, settings.prefix);
  let next = 0;
  const worker = async () => {
    while (next < settings.endpoints) {
      const index = next++;
      const terminalId = terminalIdFor(settings.prefix, index);
      const bandId = bandIdFor(settings.prefix, index);
      const key = await generateBandKey(subtle);
      credentials[terminalId] = await registerTerminal(api, terminalId);
      await enrollBand(api, bandId, userFor(settings.userPrefix, index), key.publicJwk);
      bandKeys[bandId] = key.privateJwk;
    }
  };
  const workers = [];
  for (let w = 0; w < Math.min(settings.setupConcurrency || 16, settings.endpoints); w++)
    workers.push(worker());
  await Promise.all(workers);
  return { credentials: credentials, bandKeys: bandKeys, appCredential: appCredential };
}

/** The NEA clients' application: created, or re-created when a previous run left one. */
async function registerApplication(api, prefix) {
  const applicationId = prefix + '-nea';
  await api('DELETE', '/v1/applications/' + applicationId, undefined, [204, 404]);
  const body = { applicationId: applicationId, displayName: 'k6 NEA clients', terminals: [prefix + '-*'] };
  const created = await api('POST', '/v1/applications', body, [201]);
  return created.json.credential;
}

async function registerTerminal(api, terminalId) {
  const created = await api(
    'POST',
    '/v1/terminals',
    { terminalId: terminalId, description: 'k6 load test' },
    [201, 409],
  );
  if (created.status === 201) return created.json.credential;
  const rotated = await api('POST', '/v1/terminals/' + terminalId + '/credential', undefined, [200]);
  const record = rotated.json.terminal;
  if (record && record.enabled === false)
    await api('POST', '/v1/terminals/' + terminalId + '/enable', undefined, [200]);
  return rotated.json.credential;
}

async function enrollBand(api, bandId, sAMAccountName, publicJwk) {
  const body = { bandId: bandId, user: { sAMAccountName: sAMAccountName }, publicKey: publicJwk };
  const enrolled = await api('POST', '/v1/enrollments', body, [201, 409]);
  if (enrolled.status === 201) return;
  // Already enrolled (an earlier run): same band id, new key.
  const rekeyed = await api('PUT', '/v1/enrollments/' + bandId + '/key', { publicKey: publicJwk }, [200]);
  if (rekeyed.json.active === false)
    await api('POST', '/v1/enrollments/' + bandId + '/reactivate', undefined, [200]);
}

/** One call; 503 (user-status busy, NATS blip) is retried a few times, anything unexpected throws. */
function policyApi(settings, request, wait) {
  const headers = { authorization: 'Bearer ' + settings.adminToken, 'content-type': 'application/json' };
  return async (method, path, body, expected) => {
    for (let attempt = 1; ; attempt++) {
      const res = await request(
        method,
        settings.policyUrl + path,
        body === undefined ? undefined : JSON.stringify(body),
        headers,
      );
      if (expected.indexOf(res.status) >= 0) {
        return { status: res.status, json: res.body ? JSON.parse(res.body) : {} };
      }
      if ((res.status === 503 || res.status === 0) && attempt < 5) {
        await wait(200 * attempt);
        continue;
      }
      // The error body names the code and field; it never holds the token or a credential.
      throw new Error(
        method + ' ' + path + ': ' + res.status + ' ' + String(res.body).slice(0, 300) + hint(res.status),
      );
    }
  };
}

function hint(status) {
  if (status === 401) return ' (check TAPGATE_ADMIN_TOKEN)';
  if (status === 422) return ' (the user must exist in the directory: see USER_PREFIX)';
  if (status === 0) return ' (policy API unreachable: check TAPGATE_POLICY_URL)';
  return '';
}
