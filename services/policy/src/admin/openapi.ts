import { CACHE_EXPIRY_CHOICES } from '@tapgate/contracts';

type Op = {
  summary: string;
  role?: 'viewer' | 'admin' | 'none';
  body?: string;
  ok: number;
  ifMatch?: boolean;
  query?: string[];
};

const err = { $ref: '#/components/responses/Error' };

// One row per route; the document is derived from it so routes and docs stay in one list.
const ROUTES: Record<string, Record<string, Op>> = {
  '/v1/auth/login': {
    post: {
      summary: 'Administrator login: LDAP bind + admin group',
      role: 'none',
      body: 'LoginRequest',
      ok: 200,
    },
  },
  '/v1/auth/bootstrap': {
    post: {
      summary:
        "The bootstrap administrator's one-time code ([policy].bootstrap_admin_file) for an admin session",
      role: 'none',
      body: 'BootstrapRequest',
      ok: 200,
    },
  },
  '/v1/auth/token-login': {
    post: {
      summary: 'The break-glass token ([policy].admin_token_file) for an admin session',
      role: 'none',
      body: 'TokenLoginRequest',
      ok: 200,
    },
  },
  '/v1/auth/methods': {
    get: { summary: 'Which sign-in methods the login page offers', role: 'none', ok: 200 },
  },
  '/v1/auth/logout': { post: { summary: 'End the session', role: 'viewer', ok: 204 } },
  '/v1/auth/me': {
    get: { summary: 'The logged-in administrator and the CSRF token', role: 'viewer', ok: 200 },
  },
  '/v1/policies': {
    get: { summary: 'List policies', role: 'viewer', ok: 200 },
    post: { summary: 'Create a policy', body: 'PolicyCreate', ok: 201 },
  },
  '/v1/policies/effective': {
    get: {
      summary: "A user's effective policy, explained per field",
      role: 'viewer',
      ok: 200,
      query: ['user', 'groups'],
    },
  },
  '/v1/policies/inherited': {
    get: {
      summary: "The services' reported baseline and what group and user policies inherit",
      role: 'viewer',
      ok: 200,
    },
  },
  '/v1/policies/{policyId}': {
    get: { summary: 'One policy', role: 'viewer', ok: 200 },
    put: {
      summary: 'Replace a policy (409 on a stale If-Match)',
      body: 'PolicyUpdate',
      ok: 200,
      ifMatch: true,
    },
    delete: { summary: 'Delete a policy', ok: 204, ifMatch: true },
  },
  '/v1/policies/{policyId}/activate': { post: { summary: 'Activate', ok: 200, ifMatch: true } },
  '/v1/policies/{policyId}/deactivate': { post: { summary: 'Deactivate', ok: 200, ifMatch: true } },
  '/v1/enrollments': {
    get: { summary: 'List enrollments', role: 'viewer', ok: 200, query: ['user', 'band'] },
    post: { summary: 'Enroll a band', body: 'EnrollRequest', ok: 201 },
  },
  '/v1/enrollments/{bandId}': {
    get: { summary: 'One enrollment', role: 'viewer', ok: 200 },
    delete: { summary: 'Delete an enrollment', ok: 204, ifMatch: true },
  },
  '/v1/enrollments/{bandId}/suspend': { post: { summary: 'Suspend a band', ok: 200, ifMatch: true } },
  '/v1/enrollments/{bandId}/reactivate': { post: { summary: 'Reactivate a band', ok: 200, ifMatch: true } },
  '/v1/enrollments/{bandId}/binding': {
    get: { summary: "Where the enrollment's directory object stands now", role: 'viewer', ok: 200 },
    post: {
      summary: 'Update or re-enroll the directory binding',
      body: 'RebindRequest',
      ok: 200,
      ifMatch: true,
    },
  },
  '/v1/enrollments/{bandId}/key': {
    put: { summary: 'Re-key a band', body: 'RekeyRequest', ok: 200, ifMatch: true },
  },
  '/v1/terminals': {
    get: { summary: 'List terminals', role: 'viewer', ok: 200 },
    post: { summary: 'Register a terminal (credential shown once)', body: 'TerminalCreate', ok: 201 },
  },
  '/v1/terminals/{terminalId}': {
    get: { summary: 'One terminal', role: 'viewer', ok: 200 },
    delete: { summary: 'Delete a terminal', ok: 204, ifMatch: true },
  },
  '/v1/terminals/{terminalId}/credential': {
    post: { summary: 'Rotate the credential', ok: 200, ifMatch: true },
  },
  '/v1/terminals/{terminalId}/certificates': {
    put: {
      summary: 'Pin client certificates (SHA-256 fingerprints); [] removes pinning',
      body: 'TerminalCertificatePins',
      ok: 200,
      ifMatch: true,
    },
  },
  '/v1/terminals/{terminalId}/disable': { post: { summary: 'Disable', ok: 200, ifMatch: true } },
  '/v1/terminals/{terminalId}/enable': { post: { summary: 'Enable', ok: 200, ifMatch: true } },
  '/v1/applications': {
    get: { summary: 'List NEA applications', role: 'viewer', ok: 200 },
    post: {
      summary: 'Register an application (first credential shown once)',
      body: 'ApplicationCreate',
      ok: 201,
    },
  },
  '/v1/applications/{applicationId}': {
    get: { summary: 'One application', role: 'viewer', ok: 200 },
    put: {
      summary: 'Change display name and terminal scope (narrowing closes sockets left out)',
      body: 'ApplicationUpdate',
      ok: 200,
      ifMatch: true,
    },
    delete: { summary: 'Delete an application (closes its sockets)', ok: 204, ifMatch: true },
  },
  '/v1/applications/{applicationId}/disable': {
    post: { summary: 'Disable (closes its sockets)', ok: 200, ifMatch: true },
  },
  '/v1/applications/{applicationId}/enable': { post: { summary: 'Enable', ok: 200, ifMatch: true } },
  '/v1/applications/{applicationId}/credentials': {
    post: { summary: 'Add a credential (rotation; shown once)', ok: 201, ifMatch: true },
  },
  '/v1/applications/{applicationId}/credentials/{credentialId}': {
    delete: {
      summary: 'Revoke a credential (closes the sockets that used it)',
      ok: 200,
      ifMatch: true,
    },
  },
  '/v1/audit/verify': {
    get: {
      summary: 'Verify the decision audit hash chain',
      role: 'viewer',
      ok: 200,
      query: ['fromSeq', 'toSeq'],
    },
  },
  '/v1/audit/export': {
    get: {
      summary: 'Export decisions (csv or json)',
      role: 'viewer',
      ok: 200,
      query: ['from', 'to', 'format'],
    },
  },
  '/v1/audit/admin': {
    get: {
      summary: 'Administrator changes, newest first',
      role: 'viewer',
      ok: 200,
      query: ['limit', 'actor', 'action', 'target', 'from', 'to'],
    },
  },
};

function operation(path: string, op: Op): unknown {
  const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  for (const q of op.query ?? []) {
    params.push({ name: q, in: 'query', required: false, schema: { type: 'string' } });
  }
  if (op.ifMatch) {
    params.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } });
  }
  return {
    summary: op.summary,
    description: op.role === 'none' ? 'No authentication.' : `Role: ${op.role ?? 'admin'}.`,
    ...(op.role === 'none' ? { security: [] } : {}),
    parameters: params,
    ...(op.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: { $ref: `#/components/schemas/${op.body}` } } },
          },
        }
      : {}),
    responses: {
      [op.ok]: { description: 'success' },
      400: err,
      401: err,
      403: err,
      404: err,
      409: err,
      429: err,
      503: err,
    },
  };
}

const overrides = {
  type: 'object',
  additionalProperties: false,
  properties: {
    activeDirectory: {
      type: 'object',
      additionalProperties: false,
      properties: {
        checkUserStatus: { type: 'boolean' },
        cacheUserStatus: { type: 'boolean' },
        cacheExpirySeconds: { type: 'integer', enum: [...CACHE_EXPIRY_CHOICES] },
      },
    },
    tap: {
      type: 'object',
      additionalProperties: false,
      properties: {
        allowBleTaps: { type: 'boolean' },
        allowUidTaps: { type: 'boolean' },
        requirePresence: { type: 'boolean' },
      },
    },
    esign: {
      type: 'object',
      additionalProperties: false,
      properties: {
        secondSignerMustDiffer: { type: 'boolean' },
        ceremonyTimeoutSeconds: { type: 'integer', minimum: 10, maximum: 3600 },
      },
    },
  },
};
const policyFields = {
  name: { type: 'string', maxLength: 128 },
  description: { type: 'string', maxLength: 1024 },
  group: { type: 'string', description: 'kind group: AD group CN or DN' },
  priority: { type: 'integer', minimum: 0, maximum: 1000 },
  user: { type: 'string', description: 'kind user: sAMAccountName' },
  active: { type: 'boolean' },
  settings: overrides,
};

export const OPENAPI_DOCUMENT = {
  openapi: '3.1.0',
  info: { title: 'Tapgate policy service', version: '1', description: 'See docs/api.md.' },
  security: [{ bearer: [] }, { session: [] }],
  paths: Object.fromEntries(
    Object.entries(ROUTES).map(([path, ops]) => [
      path,
      Object.fromEntries(Object.entries(ops).map(([m, op]) => [m, operation(path, op)])),
    ]),
  ),
  components: {
    securitySchemes: {
      bearer: {
        type: 'http',
        scheme: 'bearer',
        description: 'A session token from /v1/auth/login, or the break-glass token',
      },
      session: {
        type: 'apiKey',
        in: 'cookie',
        name: 'tapgate_session',
        description: 'Plus X-CSRF-Token on changes',
      },
    },
    responses: {
      Error: {
        description: 'error',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                error: {
                  type: 'object',
                  required: ['code', 'message'],
                  properties: {
                    code: { type: 'string' },
                    message: { type: 'string' },
                    field: { type: 'string' },
                    errors: {
                      type: 'array',
                      description: 'every problem of an invalid request (400 invalid_request)',
                      items: {
                        type: 'object',
                        required: ['path', 'message'],
                        properties: { path: { type: 'string' }, message: { type: 'string' } },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    schemas: {
      BootstrapRequest: {
        type: 'object',
        required: ['code'],
        additionalProperties: false,
        properties: { code: { type: 'string' } },
      },
      TokenLoginRequest: {
        type: 'object',
        required: ['token'],
        additionalProperties: false,
        properties: { token: { type: 'string' } },
      },
      LoginRequest: {
        type: 'object',
        required: ['username', 'password'],
        additionalProperties: false,
        properties: { username: { type: 'string' }, password: { type: 'string' } },
      },
      PolicyCreate: {
        type: 'object',
        required: ['policyId', 'kind', 'name', 'settings'],
        additionalProperties: false,
        properties: {
          policyId: { type: 'string' },
          kind: { type: 'string', enum: ['default', 'group', 'user'] },
          ...policyFields,
        },
      },
      PolicyUpdate: {
        type: 'object',
        required: ['name', 'settings'],
        additionalProperties: false,
        properties: policyFields,
      },
      EnrollRequest: {
        type: 'object',
        required: ['bandId', 'user', 'publicKey'],
        properties: {
          bandId: { type: 'string' },
          user: { type: 'object', properties: { sAMAccountName: { type: 'string' } } },
          publicKey: {},
        },
      },
      RekeyRequest: { type: 'object', required: ['publicKey'], properties: { publicKey: {} } },
      ApplicationCreate: {
        type: 'object',
        required: ['applicationId', 'displayName', 'terminals'],
        additionalProperties: false,
        properties: {
          applicationId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
          displayName: { type: 'string', minLength: 1, maxLength: 128 },
          terminals: {
            type: 'array',
            minItems: 1,
            maxItems: 256,
            items: { type: 'string', pattern: '^[A-Za-z0-9_*-]{1,64}$' },
            description: 'terminal ids or patterns; * matches any run of terminal-id characters',
          },
        },
      },
      ApplicationUpdate: {
        type: 'object',
        required: ['displayName', 'terminals'],
        additionalProperties: false,
        properties: {
          displayName: { type: 'string', minLength: 1, maxLength: 128 },
          terminals: {
            type: 'array',
            minItems: 1,
            maxItems: 256,
            items: { type: 'string', pattern: '^[A-Za-z0-9_*-]{1,64}$' },
          },
        },
      },
      RebindRequest: {
        type: 'object',
        properties: {
          user: {
            type: 'object',
            required: ['sAMAccountName'],
            properties: { sAMAccountName: { type: 'string' } },
          },
        },
      },
      TerminalCertificatePins: {
        type: 'object',
        required: ['certificateSha256'],
        properties: {
          certificateSha256: {
            type: 'array',
            maxItems: 8,
            items: { type: 'string', description: 'SHA-256 of the DER certificate, hex (colons allowed)' },
          },
        },
      },
      TerminalCreate: {
        type: 'object',
        required: ['terminalId'],
        properties: { terminalId: { type: 'string' }, description: { type: 'string' } },
      },
    },
  },
};

/**
 * The policy service's OpenAPI document: what `/v1/openapi.json` serves and what the console's typed API
 * client is generated from (`node services/policy/dist/openapi-dump.js`).
 */
export async function openApiDocument(): Promise<typeof OPENAPI_DOCUMENT> {
  return OPENAPI_DOCUMENT;
}
