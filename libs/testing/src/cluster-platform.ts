import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HostNetwork, type HostProcess, type TestHost } from './hosts';
import { NatsCluster } from './nats-cluster';
import { writeUsersFile, type DemoUser } from './platform';
import { sleep } from './ports';
import { RedisSentinelSet } from './redis-sentinel';
import { REPO_ROOT } from './service-process';

/** The services every service host runs one replica of, in start order (policy needs the first two). */
export const CLUSTER_SERVICES = ['user-status', 'presence', 'policy', 'ws-gateway'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

/**
 * Ports inside every host (each host is its own network namespace, so every replica uses the same ones,
 * as pods do). The HTTP ports differ per service because the services of one host share its namespace.
 */
export const CLUSTER_PORTS = {
  agent: 9120,
  webapi: 4443,
  http: { 'ws-gateway': 8080, policy: 8081, 'user-status': 8082, presence: 8083 },
} as const satisfies { http: Record<ClusterService, number> } & Record<string, unknown>;

const SERVICE_READY_MS = 60_000;
const API_ATTEMPTS = 3;

export interface ClusterPlatformOptions {
  /** Folder for config, logs and data (created). */
  dir: string;
  /** Users of the file-backed directory. */
  users: DemoUser[];
  /** Service hosts: each runs a NATS node and one replica of every service (default 3). */
  serviceHosts?: number;
  /** [user_status].cache_expiry_seconds (default 30). */
  userStatusCacheExpirySeconds?: number;
  /** Extra lines appended to nymi_agent.toml (sections of their own). */
  extraToml?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** nats-server ping_interval in seconds (NatsCluster `pingIntervalS`); default nats-server's 120 s. */
  natsPingIntervalS?: number;
}

/** Data hosts: Redis primary, Redis replica, and a third so that each Sentinel has a host of its own. */
const DATA_HOSTS = 3;

/**
 * The whole platform replicated over several hosts (network namespaces on a bridge, libs/testing
 * HostNetwork): on each service host a NATS node (JetStream, routes to the others) and one replica of
 * ws-gateway, presence, user-status and policy as their own processes. Redis with Sentinel runs on
 * three data hosts of its own: the primary on the first, its replica on the second, one Sentinel on
 * each (quorum 2). So losing or cutting off a service host touches no Redis, losing any one data host
 * leaves two Sentinels (a quorum, and the majority a failover needs), and replication crosses the
 * bridge as between machines. Every replica reads one nymi_agent.toml that lists every NATS node, sets
 * `[nats] replicas` to the number of service hosts and lists the Sentinels in `[redis] sentinels`.
 *
 * Clients reach a replica at `host.address` and CLUSTER_PORTS; a test puts a balancer in front to give
 * them one address.
 */
export class ClusterPlatform {
  private readonly replicas = new Map<string, HostProcess>();
  private redisSet: RedisSentinelSet | undefined;
  adminToken = '';

  private constructor(
    readonly opts: ClusterPlatformOptions,
    readonly net: HostNetwork,
    readonly nats: NatsCluster,
  ) {}

  /** Hosts that run a NATS node and the services (the first `serviceHosts` of the network). */
  get serviceHosts(): TestHost[] {
    return this.net.hosts.slice(0, this.opts.serviceHosts ?? 3);
  }

  /** The hosts of Redis and its Sentinels (after the service hosts). */
  get dataHosts(): TestHost[] {
    return this.net.hosts.slice(this.serviceHosts.length);
  }

  /** Redis primary, replica and Sentinels (`killPrimary`, `waitForFailover`, `primary()`). */
  get redis(): RedisSentinelSet {
    if (!this.redisSet) throw new Error('ClusterPlatform: Redis is not running');
    return this.redisSet;
  }

  get configFile(): string {
    return join(this.opts.dir, 'nymi_agent.toml');
  }

  static async start(opts: ClusterPlatformOptions): Promise<ClusterPlatform> {
    const count = opts.serviceHosts ?? 3;
    rmSync(join(opts.dir, 'logs'), { recursive: true, force: true });
    mkdirSync(join(opts.dir, 'logs'), { recursive: true });
    const net = HostNetwork.create(count + DATA_HOSTS);
    let nats: NatsCluster | undefined;
    try {
      nats = await NatsCluster.start(net.hosts.slice(0, count), {
        logDir: join(opts.dir, 'logs'),
        pingIntervalS: opts.natsPingIntervalS,
      });
      const p = new ClusterPlatform(opts, net, nats);
      try {
        await p.startRedis();
        p.writeConfig();
        // One host at a time: the first replica of each service creates the JetStream assets, and two
        // creating one R3 stream at once is a start-up race not worth having in every run.
        for (let i = 0; i < count; i++) await p.startHost(i);
        return p;
      } catch (e) {
        await p.stop();
        throw e;
      }
    } catch (e) {
      await nats?.dispose();
      await net.dispose();
      throw e;
    }
  }

  /**
   * The `[redis]` section every service reads: the Sentinels only (no `url`: its default names no
   * server inside a host, so a service that ignored the Sentinels would find no Redis at all).
   */
  private redisToml(): string {
    const sentinels = this.redis.sentinels.map((s) => JSON.stringify(`${s.host}:${s.port}`));
    return `[redis]\nsentinels = [${sentinels.join(', ')}]\nmaster_name = "${this.redis.masterName}"\n`;
  }

  private async startRedis(): Promise<void> {
    const [first, second, third] = this.dataHosts;
    const on = (host: TestHost) => ({
      address: host.address,
      spawn: (cmd: string, args: string[], o: { port: number }) => host.run(cmd, args, o),
    });
    this.redisSet = await RedisSentinelSet.start({
      placement: [on(first), on(second), on(first), on(second), on(third)],
    });
  }

  private writeConfig(): void {
    const { dir, users } = this.opts;
    this.adminToken = `cluster-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, 'admin.token'), this.adminToken, { mode: 0o600 });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'assertion-signing.pem'), privateKey.export({ format: 'pem', type: 'pkcs8' }), {
      mode: 0o600,
    });
    writeUsersFile(join(dir, 'users.yaml'), users);
    writeFileSync(
      this.configFile,
      `# Generated by the Tapgate cluster test harness (libs/testing cluster-platform.ts).
[agent]
log_level = "${this.opts.logLevel ?? 'warn'}"
port = ${CLUSTER_PORTS.agent}

[webapi]
port = ${CLUSTER_PORTS.webapi}

[nats]
servers = [${this.nats.servers.map((s) => JSON.stringify(s)).join(', ')}]
replicas = ${this.serviceHosts.length}

${this.redisToml()}
[assertions]
signing_key_files = ["assertion-signing.pem"]

[policy]
admin_token_file = "admin.token"

${this.opts.extraToml ?? ''}

[user_status]
cache_expiry_seconds = ${this.opts.userStatusCacheExpirySeconds ?? 30}
directory = "file"
users_file = "users.yaml"
`,
    );
  }

  private key(service: ClusterService, host: number): string {
    return `${service}@h${host}`;
  }

  /** The running replica of `service` on service host `host`, if any. */
  replica(service: ClusterService, host: number): HostProcess | undefined {
    return this.replicas.get(this.key(service, host));
  }

  /** http://<host>:<port> of a replica's HTTP port (probes, metrics, JWKS, the policy API). */
  httpUrl(service: ClusterService, host: number): string {
    return `http://${this.serviceHosts[host].address}:${CLUSTER_PORTS.http[service]}`;
  }

  /** Starts one replica on a service host and waits until its /readyz answers 200. */
  async startService(service: ClusterService, host: number): Promise<HostProcess> {
    const h = this.serviceHosts[host];
    const name = `${service}-h${host}`;
    const log = createWriteStream(join(this.opts.dir, 'logs', `${name}.log`), { flags: 'a' });
    const readyz = `${this.httpUrl(service, host)}/readyz`;
    const proc = await h.run(process.execPath, [resolve(REPO_ROOT, `services/${service}/dist/main.js`)], {
      env: {
        ...process.env,
        TAPGATE_CONFIG: this.configFile,
        TAPGATE_HTTP_HOST: '0.0.0.0',
        TAPGATE_HTTP_PORT: String(CLUSTER_PORTS.http[service]),
        // Every host shares this machine's host name, the default gateway id.
        TAPGATE_GATEWAY_GATEWAY_ID: `gw-h${host}`,
        TAPGATE_NATS_NAME: name,
      },
      timeoutMs: SERVICE_READY_MS,
      ready: () =>
        fetch(readyz, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.ok,
          () => false,
        ),
    });
    proc.child.stdout?.pipe(log);
    proc.child.stderr?.pipe(log);
    this.replicas.set(this.key(service, host), proc);
    proc.child.once('exit', () => {
      if (this.replicas.get(this.key(service, host)) === proc) this.replicas.delete(this.key(service, host));
    });
    return proc;
  }

  /** Starts every service replica of a service host (its NATS node must run). */
  async startHost(host: number): Promise<void> {
    for (const s of CLUSTER_SERVICES) if (!this.replica(s, host)) await this.startService(s, host);
  }

  /** Brings a killed service host back: its NATS node on its store, then every replica. */
  async restartHost(host: number): Promise<void> {
    await this.nats.restart(this.nats.nodes[host].name);
    await this.startHost(host);
  }

  /** Stops one replica with `signal` (SIGTERM: its graceful shutdown; SIGKILL after 5 s). */
  async stopService(
    service: ClusterService,
    host: number,
    signal: NodeJS.Signals = 'SIGTERM',
  ): Promise<void> {
    await this.replica(service, host)?.stop(signal);
  }

  /**
   * Calls the policy REST API as the administrator, on the first service host whose policy replica
   * runs and is not cut off; a replica that fails to answer (not an HTTP error) is skipped.
   */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < API_ATTEMPTS; attempt++) {
      for (let i = 0; i < this.serviceHosts.length; i++) {
        if (!this.replica('policy', i) || this.serviceHosts[i].isCutOff) continue;
        let res: Response;
        try {
          res = await fetch(`${this.httpUrl('policy', i)}${path}`, {
            method,
            headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
          });
        } catch (e) {
          lastError = e;
          continue;
        }
        const text = await res.text();
        if (res.status === 503) {
          lastError = new Error(`${method} ${path}: 503 ${text}`);
          continue;
        }
        if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
        return (text ? JSON.parse(text) : undefined) as T;
      }
      await sleep(500);
    }
    throw new Error(`${method} ${path}: no policy replica answered (${(lastError as Error)?.message})`);
  }

  /** A replica's /readyz body, or undefined when it does not answer within a second. */
  async readyz(service: ClusterService, host: number): Promise<Record<string, unknown> | undefined> {
    return fetch(`${this.httpUrl(service, host)}/readyz`, { signal: AbortSignal.timeout(1000) })
      .then((r) => r.json() as Promise<Record<string, unknown>>)
      .catch(() => undefined);
  }

  /** Stops every replica, Redis and NATS, and removes the hosts. */
  async stop(): Promise<void> {
    await Promise.all([...this.replicas.values()].map((p) => p.stop('SIGKILL').catch(() => undefined)));
    this.replicas.clear();
    await this.redisSet?.stop().catch(() => undefined);
    await this.nats.dispose().catch(() => undefined);
    await this.net.dispose();
  }
}
