// k6 side of provisioning: the policy API through k6/http, WebCrypto as protocol.js finds it.
import http from 'k6/http';
import { webCrypto } from './protocol.js';
import { provisionTerminals } from './provision.js';

const expected = http.expectedStatuses(200, 201, 409);

function k6Request(method, url, body, headers) {
  return http
    .asyncRequest(method, url, body === undefined ? null : body, {
      headers: headers,
      responseCallback: expected,
    })
    .then((res) => ({ status: res.status, body: res.body }));
}

/**
 * The scenario's setup(): with TAPGATE_ADMIN_TOKEN, enroll and hand the VUs {credentials, bandKeys};
 * without it, the credentials of CREDENTIALS_FILE (read at init into `fileCredentials`) and no band keys.
 */
export function setupTerminals(settings, fileCredentials) {
  if (!settings.adminToken) {
    return { credentials: fileCredentials, bandKeys: {}, appCredential: settings.appCredential };
  }
  return provisionTerminals(settings, k6Request, webCrypto && webCrypto.subtle);
}
