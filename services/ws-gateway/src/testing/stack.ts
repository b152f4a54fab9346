import { SoftwareBand, exportBandPublicKeyJwk } from '@tapgate/band';
import { loadAgentConfig } from '@tapgate/config';
import type { AuditTrail } from '@tapgate/audit';
import {
  KvBuckets,
  type AuditRecord,
  UserStatusGet,
  type ApplicationRecord,
  type EnrollmentRecord,
  type StatusAnswer,
  type TerminalRecord,
} from '@tapgate/contracts';
import { Messaging, openBucket } from '@tapgate/messaging';
import {
  NO_GATEWAY_DRAIN_ENV,
  freePort,
  startNats,
  startServiceProcess,
  type ServiceProcess,
  type TestServer,
} from '@tapgate/testing';
import { createHash, randomBytes } from 'node:crypto';
import { bootstrap, gatewaySettings, type RunningGateway } from '../bootstrap';

export interface TestTerminal {
  terminalId: string;
  credential: string;
}

/**
 * The credential of the application every stack registers for all terminals (`test-nea`, scope `*`), so
 * tests about other things bind explicitly as an authorized application would. Tests about application
 * authorization make their own applications with `addApplication`.
 */
export const TEST_APP_CREDENTIAL = randomBytes(32).toString('base64url');
export const TEST_APP_ID = 'test-nea';

/**
 * A real NATS (JetStream) with seeded terminal credentials and band enrollments, for gateway tests.
 * Gateways are booted in-process from config built the way production builds it (env overrides).
 */
export class GatewayTestStack {
  readonly bands = new Map<string, SoftwareBand>();
  readonly terminals = new Map<string, TestTerminal>();
  private readonly gateways: RunningGateway[] = [];
  private readonly processes: ServiceProcess[] = [];

  private constructor(
    private readonly ownNats: TestServer | undefined,
    /** Every NATS server's URL, as the gateways and `admin` are given them. */
    readonly natsServers: string[],
    /** [nats] replicas of the gateways and `admin`. */
    readonly replicas: number,
    readonly admin: Messaging,
  ) {}

  /** The stack's own nats-server (not there when the stack was started on `servers`). */
  get nats(): TestServer {
    if (!this.ownNats) throw new Error('this stack runs on NATS servers it does not own');
    return this.ownNats;
  }

  /**
   * Starts its own nats-server, or uses `servers` (e.g. a NatsCluster's) with `replicas` for every
   * JetStream asset; the stack does not stop servers it was given.
   */
  static async start(opts: { servers?: string[]; replicas?: number } = {}): Promise<GatewayTestStack> {
    const nats = opts.servers ? undefined : await startNats();
    const servers = opts.servers ?? [nats!.url];
    const replicas = opts.replicas ?? 1;
    const admin = new Messaging({ servers, name: 'test-admin', replicas });
    await admin.connection();
    const stack = new GatewayTestStack(nats, servers, replicas, admin);
    await stack.putApplication(TEST_APP_ID, { terminals: ['*'], credentials: { c1: TEST_APP_CREDENTIAL } });
    return stack;
  }

  /**
   * Writes an application record straight into its bucket, as the policy service would (its API is
   * tested in the policy service); `credentials` maps credential ids to the secrets, of which only
   * SHA-256 is stored.
   */
  async putApplication(
    applicationId: string,
    opts: { terminals: string[]; credentials: Record<string, string>; enabled?: boolean },
  ): Promise<ApplicationRecord> {
    const stamp = { by: 'test', at: new Date().toISOString() };
    const record: ApplicationRecord = {
      v: 1,
      applicationId,
      displayName: applicationId,
      enabled: opts.enabled ?? true,
      terminals: opts.terminals,
      credentials: Object.entries(opts.credentials).map(([credentialId, secret]) => ({
        credentialId,
        credentialSha256: createHash('sha256').update(secret).digest('hex'),
        created: stamp,
      })),
      created: stamp,
      updated: stamp,
    };
    const kv = await openBucket(this.admin, KvBuckets.applications);
    await kv.put(applicationId, JSON.stringify(record));
    return record;
  }

  async deleteApplication(applicationId: string): Promise<void> {
    const kv = await openBucket(this.admin, KvBuckets.applications);
    await kv.delete(applicationId);
  }

  async addTerminal(terminalId: string, enabled = true): Promise<TestTerminal> {
    const credential = randomBytes(32).toString('base64url');
    const now = new Date().toISOString();
    const record: TerminalRecord = {
      v: 1,
      terminalId,
      credentialSha256: createHash('sha256').update(credential).digest('hex'),
      enabled,
      created: { by: 'test', at: now },
      updated: { by: 'test', at: now },
    };
    const kv = await openBucket(this.admin, KvBuckets.terminals);
    await kv.put(terminalId, JSON.stringify(record));
    const t = { terminalId, credential };
    this.terminals.set(terminalId, t);
    return t;
  }

  /** Changes a terminal's record as the policy service would (disable, rotate, pins); returns the new one. */
  async updateTerminal(
    terminalId: string,
    change: (r: TerminalRecord) => TerminalRecord,
  ): Promise<TerminalRecord> {
    const kv = await openBucket(this.admin, KvBuckets.terminals);
    const entry = await kv.get(terminalId);
    if (!entry) throw new Error(`no terminal ${terminalId}`);
    const next = change(entry.json<TerminalRecord>());
    await kv.put(terminalId, JSON.stringify(next));
    return next;
  }

  async deleteTerminal(terminalId: string): Promise<void> {
    const kv = await openBucket(this.admin, KvBuckets.terminals);
    await kv.delete(terminalId);
    this.terminals.delete(terminalId);
  }

  async enroll(
    sAMAccountName: string,
    opts: { active?: boolean; band?: SoftwareBand } = {},
  ): Promise<SoftwareBand> {
    const band = opts.band ?? SoftwareBand.generate();
    const now = new Date().toISOString();
    const record: EnrollmentRecord = {
      v: 1,
      bandId: band.bandId,
      user: {
        sAMAccountName,
        dn: `CN=${sAMAccountName},CN=Users,DC=test,DC=local`,
        displayName: sAMAccountName,
      },
      publicKey: exportBandPublicKeyJwk(band.publicKey),
      active: opts.active ?? true,
      created: { by: 'test', at: now },
      updated: { by: 'test', at: now },
    };
    const kv = await openBucket(this.admin, KvBuckets.enrollments);
    await kv.put(band.bandId, JSON.stringify(record));
    this.bands.set(band.bandId, band);
    return band;
  }

  async setActive(band: SoftwareBand, active: boolean): Promise<void> {
    const kv = await openBucket(this.admin, KvBuckets.enrollments);
    const entry = await kv.get(band.bandId);
    if (!entry) throw new Error('not enrolled');
    const record = entry.json<EnrollmentRecord>();
    await kv.put(band.bandId, JSON.stringify({ ...record, active }));
  }

  /**
   * Boots a gateway; `env` adds TAPGATE_* overrides (e.g. TLS or limits). `waitForRegistries: false`
   * returns as soon as it listens, before it has loaded its registries (it answers hellos with 1013).
   */
  async gateway(
    env: Record<string, string> = {},
    opts: { waitForRegistries?: boolean } = {},
  ): Promise<RunningGateway> {
    const [agent, webapi, http] = await Promise.all([freePort(), freePort(), freePort()]);
    const cfg = loadAgentConfig({
      env: {
        TAPGATE_AGENT_PORT: String(agent),
        TAPGATE_WEBAPI_PORT: String(webapi),
        TAPGATE_HTTP_PORT: String(http),
        TAPGATE_HTTP_HOST: '127.0.0.1',
        TAPGATE_NATS_SERVERS: this.natsServers.join(','),
        TAPGATE_NATS_REPLICAS: String(this.replicas),
        TAPGATE_GATEWAY_GATEWAY_ID: `gw-${agent}`,
        TAPGATE_GATEWAY_REQUIRE_PRESENCE: 'false',
        // Test gateways stop at once unless a test sets `[gateway] drain_*` itself (drain.test.ts does).
        ...NO_GATEWAY_DRAIN_ENV,
        ...env,
      },
      sections: ['agent', 'webapi', 'nats', 'http', 'gateway', 'assertions', 'audit'],
    });
    const gw = await bootstrap(gatewaySettings(cfg));
    this.gateways.push(gw);
    if (opts.waitForRegistries ?? true) await applicationsLoaded(gw);
    return gw;
  }

  /**
   * Starts a gateway as its own process (services/ws-gateway/dist/main.js), for tests that stop it
   * with signals (SIGSTOP, SIGTERM, SIGKILL). Same env overrides as `gateway`.
   */
  async gatewayProcess(
    env: Record<string, string>,
    logFile: string,
  ): Promise<{
    proc: ServiceProcess;
    ports: { agent: number; webapi: number; http: number };
    gatewayId: string;
  }> {
    const [agent, webapi, http] = await Promise.all([freePort(), freePort(), freePort()]);
    const gatewayId = `gwp-${agent}`;
    const proc = await startServiceProcess({
      name: gatewayId,
      script: 'services/ws-gateway/dist/main.js',
      env: {
        TAPGATE_AGENT_PORT: String(agent),
        TAPGATE_WEBAPI_PORT: String(webapi),
        TAPGATE_HTTP_PORT: String(http),
        TAPGATE_HTTP_HOST: '127.0.0.1',
        TAPGATE_NATS_SERVERS: this.natsServers.join(','),
        TAPGATE_NATS_REPLICAS: String(this.replicas),
        TAPGATE_GATEWAY_GATEWAY_ID: gatewayId,
        TAPGATE_GATEWAY_REQUIRE_PRESENCE: 'false',
        // Test gateways stop at once unless a test sets `[gateway] drain_*` itself (drain.test.ts does).
        ...NO_GATEWAY_DRAIN_ENV,
        ...env,
      },
      logFile,
      readyUrl: `http://127.0.0.1:${http}/readyz`,
    });
    this.processes.push(proc);
    return { proc, ports: { agent, webapi, http }, gatewayId };
  }

  async stop(): Promise<void> {
    for (const p of this.processes) await p.stop().catch(() => undefined);
    for (const gw of this.gateways) await gw.close().catch(() => undefined);
    await this.admin.close();
    await this.ownNats?.dispose();
  }
}

/**
 * Until a gateway has read the application registry it answers explicit NEA hellos with "try again
 * later" (1013), as it answers endpoints before the terminal registry is loaded. Tests connect at once,
 * so wait for it (at most 5 s: a test that boots a gateway without NATS still gets its gateway).
 */
async function applicationsLoaded(gw: RunningGateway): Promise<void> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline) {
    const res = await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`).catch(() => undefined);
    const body = (await res?.json().catch(() => undefined)) as { applications?: boolean } | undefined;
    if (body?.applications) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function endpointUrl(gw: RunningGateway, scheme: 'ws' | 'wss' = 'ws'): string {
  return `${scheme}://127.0.0.1:${gw.ports.agent}/socket/websocket`;
}

export function neaUrl(
  gw: RunningGateway,
  iface: 'agent' | 'webapi' = 'webapi',
  scheme: 'ws' | 'wss' = 'ws',
): string {
  return `${scheme}://127.0.0.1:${iface === 'agent' ? gw.ports.agent : gw.ports.webapi}/`;
}

/** What a gateway's /readyz says (the fields the tests read). */
export interface Readyz {
  ready: boolean;
  draining: boolean;
  sockets: number;
  endpoints: number;
  nea: Record<string, number>;
  ceremonies: boolean;
}

export async function readyz(gw: { ports: { http: number } }): Promise<Readyz> {
  return (await fetch(`http://127.0.0.1:${gw.ports.http}/readyz`)).json() as Promise<Readyz>;
}

/**
 * Answers UserStatusGet from a table. A stand-in for the user-status *service* on the NATS side, used
 * only by the gateway's own tests so they can set any status; the end-to-end tests (tests/e2e) run
 * the real user-status service against Samba AD instead.
 */
export function serveUserStatuses(
  admin: Messaging,
  statuses: Record<string, StatusAnswer['status']>,
): () => void {
  return admin.respond(UserStatusGet, async (q): Promise<StatusAnswer> => {
    const name = 'sAMAccountName' in q.user ? q.user.sAMAccountName : q.user.userPrincipalName;
    return {
      v: 1,
      status: statuses[name] ?? 'not_found',
      user: { sAMAccountName: name.slice(0, 20), displayName: `User ${name}` },
      evidence: {},
      source: 'directory',
      checkedAt: new Date().toISOString(),
    };
  });
}

/** Every audit record stored so far (the JSON export of the last hour). */
export async function storedAuditRecords(trail: AuditTrail): Promise<AuditRecord[]> {
  const out = await trail.exportRange({
    from: new Date(Date.now() - 3600_000),
    to: new Date(Date.now() + 60_000),
    format: 'json',
  });
  return (JSON.parse(out.body) as Array<{ record: AuditRecord }>).map((e) => e.record);
}
