import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '@tapgate/config';
import {
  UserStatusGet,
  type EnrollmentRecord,
  type StatusAnswer,
  type TerminalRecord,
} from '@tapgate/contracts';
import { connectMessaging, type Messaging } from '@tapgate/messaging';
import { freePort, waitFor } from '@tapgate/testing';
import { bootstrap, type PolicyServer } from '../bootstrap';
import { POLICY_CONFIG_SECTIONS } from '../policy-settings';

export type EnrollmentView = EnrollmentRecord & { revision: number };
export type TerminalView = Omit<TerminalRecord, 'credentialSha256'> & { revision: number };

/**
 * Every member any API response may have, as one type, so tests can read `res.body.error.code` or
 * `res.body.items` without casts. Which members are really there is what the tests assert.
 */
export type ApiBody = { error: { code: string; message: string; field?: string } } & EnrollmentView &
  TerminalView & { items: Array<EnrollmentView & TerminalView> } & {
    terminal: TerminalView;
    credential: string;
  };

export interface ApiResponse {
  status: number;
  body: ApiBody;
  headers: Headers;
}

export interface PolicyHarness {
  readonly server: PolicyServer;
  readonly url: string;
  readonly token: string;
  readonly dir: string;
  readonly configPath: string;
  /** Calls the API as the administrator unless `token` says otherwise (null = no Authorization header). */
  api(
    method: string,
    path: string,
    opts?: { body?: unknown; rawBody?: string; token?: string | null; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  close(): Promise<void>;
}

/** Writes a nymi_agent.toml and an admin token file into a temporary folder; returns their paths. */
export interface PolicyHarnessOptions {
  allowUnverified?: boolean;
  adminName?: string;
  token?: string | null;
  /** [policy].bootstrap_admin_file = "<dir>/bootstrap-admin.code" (and its lifetime in minutes). */
  bootstrapAdmin?: { minutes?: number };
  /** [ldap] for administrator login (e.g. a Samba AD from @tapgate/testing) and [policy].admin_group. */
  ldap?: {
    url: string;
    baseDn: string;
    bindDn: string;
    bindPassword: string;
    caFile: string;
    adminGroup: string;
  };
}

export function writePolicyConfig(
  natsUrl: string,
  port: number,
  opts: PolicyHarnessOptions = {},
): { dir: string; configPath: string; token: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tapgate-policy-'));
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const lines = [
    '[nats]',
    `servers = ["${natsUrl}"]`,
    'request_timeout_ms = 1000',
    '[http]',
    'host = "127.0.0.1"',
    `port = ${port}`,
    '[policy]',
    `allow_unverified_enrollment = ${opts.allowUnverified === true}`,
  ];
  if (opts.adminName) lines.push(`admin_name = "${opts.adminName}"`);
  if (opts.token !== null) {
    writeFileSync(join(dir, 'admin.token'), `${token}\n`, { mode: 0o600 });
    lines.push('admin_token_file = "admin.token"');
  }
  if (opts.bootstrapAdmin) {
    lines.push('bootstrap_admin_file = "bootstrap-admin.code"');
    if (opts.bootstrapAdmin.minutes) lines.push(`bootstrap_admin_minutes = ${opts.bootstrapAdmin.minutes}`);
  }
  if (opts.ldap) {
    lines.push(`admin_group = ${JSON.stringify(opts.ldap.adminGroup)}`);
    writeFileSync(join(dir, 'ldap.password'), opts.ldap.bindPassword, { mode: 0o600 });
    lines.push(
      '[ldap]',
      `url = ${JSON.stringify(opts.ldap.url)}`,
      `base_dn = ${JSON.stringify(opts.ldap.baseDn)}`,
      `bind_dn = ${JSON.stringify(opts.ldap.bindDn)}`,
      'bind_password_file = "ldap.password"',
      `ca_file = ${JSON.stringify(opts.ldap.caFile)}`,
    );
  }
  const configPath = join(dir, 'nymi_agent.toml');
  writeFileSync(configPath, `${lines.join('\n')}\n`);
  return { dir, configPath, token };
}

/** Boots the real policy service in-process against `natsUrl` and waits until it is ready. */
export async function startPolicy(
  natsUrl: string,
  opts: Omit<PolicyHarnessOptions, 'token'> = {},
): Promise<PolicyHarness> {
  const { dir, configPath, token } = writePolicyConfig(natsUrl, await freePort(), opts);
  const config = loadAgentConfig({ path: configPath, env: {}, sections: POLICY_CONFIG_SECTIONS });
  const server = await bootstrap(config);
  const api: PolicyHarness['api'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    const bearer = o.token === undefined ? token : o.token;
    if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
    let body: string | undefined = o.rawBody;
    if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    if (o.rawBody !== undefined) headers['content-type'] ??= 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, body });
    const text = await res.text();
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : undefined) as ApiBody,
      headers: res.headers,
    };
  };
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).ok, {
    what: 'policy ready',
    timeoutMs: 15_000,
  });
  return {
    server,
    url: server.url,
    token,
    dir,
    configPath,
    api,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const TEST_BASE_DN = 'CN=Users,DC=tapgate,DC=test';

/**
 * A stand-in for services/user-status on NATS (a test double of a NATS *peer*, not of anything inside the
 * policy service), until user-status lands: `unknown` names answer not_found, `unavailable` names answer
 * unavailable (directory down), everyone else is an active user under TEST_BASE_DN.
 */
export function startUserStatusDouble(
  natsUrl: string,
  opts: { unknown?: string[]; unavailable?: string[] } = {},
): { messaging: Messaging; asked: string[]; ready(): Promise<void>; stop(): Promise<void> } {
  const messaging = connectMessaging({ servers: [natsUrl], name: 'user-status-double' });
  const asked: string[] = [];
  messaging.respond(UserStatusGet, async (q): Promise<StatusAnswer> => {
    const name = 'sAMAccountName' in q.user ? q.user.sAMAccountName : q.user.userPrincipalName.split('@')[0];
    asked.push(name);
    const base = {
      v: 1 as const,
      evidence: {},
      source: 'directory' as const,
      checkedAt: new Date().toISOString(),
    };
    if (opts.unknown?.includes(name.toLowerCase())) return { ...base, status: 'not_found' };
    if (opts.unavailable?.includes(name.toLowerCase())) {
      return { ...base, status: 'unavailable', source: 'none' };
    }
    // The directory's spelling wins (sAMAccountName is case-insensitive): the double answers in lower case.
    const canonical = name.toLowerCase();
    // A stable objectGUID per name, as the directory would give one object.
    const h = createHash('sha256').update(canonical).digest('hex');
    const objectGUID = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    return {
      ...base,
      status: 'active',
      directoryObject: { objectGUID },
      user: {
        sAMAccountName: canonical,
        dn: `CN=${canonical},${TEST_BASE_DN}`,
        displayName: `User ${canonical}`,
      },
    };
  });
  return {
    messaging,
    asked,
    // A flush round-trip guarantees the server has registered the responder's subscription.
    ready: async () => (await messaging.connection()).flush(),
    stop: () => messaging.close(),
  };
}
