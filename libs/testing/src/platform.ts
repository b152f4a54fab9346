import { generateKeyPairSync } from 'node:crypto';
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { imageRunConfig, startImageProcess } from './image-process';
import { freePort } from './ports';
import { RedisSentinelSet } from './redis-sentinel';
import { startNats, startRedis, type TestServer } from './servers';
import { startServiceProcess, type ServiceProcess } from './service-process';

/**
 * `[gateway] drain_*` overrides for a gateway that stops at once (docs/operations.md, "Rolling upgrades"):
 * what test gateways and the platform's use unless a test sets its own.
 */
export const NO_GATEWAY_DRAIN_ENV: Readonly<Record<string, string>> = {
  TAPGATE_GATEWAY_DRAIN_DELAY_MS: '0',
  TAPGATE_GATEWAY_DRAIN_SPREAD_MS: '0',
  TAPGATE_GATEWAY_DRAIN_TIMEOUT_MS: '0',
};

const BOOTSTRAP_ADMIN_FILE = 'bootstrap-admin.code';

export interface DemoUser {
  sAMAccountName: string;
  displayName: string;
  state:
    'active' | 'disabled' | 'locked_out' | 'password_expired' | 'must_change_password' | 'account_expired';
}

export interface PlatformOptions {
  /** Folder for config, logs and data (created). */
  dir: string;
  /** Fixed socket ports (the demo uses 9120/4443); default: free ports. */
  agentPort?: number;
  webapiPort?: number;
  gatewayHttpPort?: number;
  policyHttpPort?: number;
  /**
   * [policy].bootstrap_admin_file = "<dir>/bootstrap-admin.code": the policy service writes a one-time
   * sign-in code for the console's bootstrap administrator there (read it with `bootstrapAdminCode()`).
   */
  bootstrapAdmin?: boolean;
  /** Users of the file-backed directory. */
  users: DemoUser[];
  /** Use this Active Directory instead of the file directory (users are then ignored). */
  ldap?: { url: string; baseDn: string; bindDn: string; bindPassword: string; caFile: string };
  /** [policy].admin_group: the AD group (CN or DN) whose members may log in to the console. */
  adminGroup?: string;
  /** [user_status].cache_expiry_seconds, the fallback until a default policy exists (default 30). */
  userStatusCacheExpirySeconds?: number;
  /**
   * Redis as a primary, a replica and three Sentinels (RedisSentinelSet) instead of one redis-server:
   * the services get `[redis] sentinels`; use `redisSentinels` to kill the primary.
   */
  redisSentinel?: boolean;
  /** Extra [section] lines appended to nymi_agent.toml, e.g. gateway limits for the benchmark. */
  extraToml?: string;
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Extra NODE_OPTIONS per service name (e.g. "--cpu-prof" for the gateway while profiling). */
  nodeOptions?: Record<string, string>;
  /** Extra environment for every service (e.g. the OTEL_* variables of the tracing test). */
  env?: Record<string, string>;
  /**
   * Runs each service from its container image instead of the repository's dist: the image name with
   * `{service}` for the service, e.g. "localhost/tapgate/{service}:dev" (scripts/images.sh builds them).
   * Default: the TAPGATE_SERVICE_IMAGE environment variable, so the end-to-end tests run unchanged
   * against the images (scripts/test-images.sh). See `startProgram`.
   */
  serviceImage?: string;
}

/** The file-backed user directory (`[user_status] users_file`) the platforms' user-status reads. */
export function writeUsersFile(path: string, users: DemoUser[]): void {
  const entries = users.map(
    (u) =>
      `  - sAMAccountName: ${u.sAMAccountName}\n    displayName: "${u.displayName}"\n    state: ${u.state}\n`,
  );
  writeFileSync(path, `users:\n${entries.join('')}`);
}

/** Where the chart mounts the config (charts/tapgate: TAPGATE_CONFIG and the LDAP CA volume). */
export const IMAGE_CONFIG_DIR = '/etc/tapgate';
const IMAGE_LDAP_CA_FILE = `${IMAGE_CONFIG_DIR}/ldap-ca/ca.crt`;

/**
 * The whole platform as separate processes on this machine: a private nats-server (JetStream) and
 * redis-server, then user-status (file directory), presence, policy and one ws-gateway, all reading
 * one generated nymi_agent.toml. Used by the demo and the benchmark.
 */
export class Platform {
  readonly processes: ServiceProcess[] = [];
  private readonly starters = new Map<string, () => Promise<ServiceProcess>>();
  /** Clients opened against this platform, closed first by stop() (see closeOnStop). */
  private readonly clientClosers = new Set<() => unknown>();
  adminToken = '';

  private constructor(
    readonly opts: PlatformOptions,
    readonly nats: TestServer,
    private readonly redisStore: TestServer | RedisSentinelSet,
    readonly ports: {
      agent: number;
      webapi: number;
      gatewayHttp: number;
      policyHttp: number;
      userStatusHttp: number;
      presenceHttp: number;
    },
  ) {}

  /** The one redis-server (not with `redisSentinel`). */
  get redis(): TestServer {
    if (this.redisStore instanceof RedisSentinelSet) {
      throw new Error('this platform runs Redis with Sentinels: use redisSentinels');
    }
    return this.redisStore;
  }

  /** The primary, replica and Sentinels (only with `redisSentinel`). */
  get redisSentinels(): RedisSentinelSet {
    if (!(this.redisStore instanceof RedisSentinelSet)) throw new Error('started without redisSentinel');
    return this.redisStore;
  }

  static async start(opts: PlatformOptions): Promise<Platform> {
    // Each run starts with empty logs, so the first "listening" line of a log is this run's port.
    rmSync(join(opts.dir, 'logs'), { recursive: true, force: true });
    mkdirSync(join(opts.dir, 'logs'), { recursive: true });
    const [nats, redis] = await Promise.all([
      startNats(),
      opts.redisSentinel ? RedisSentinelSet.start() : startRedis(),
    ]);
    const ports = {
      agent: opts.agentPort ?? (await freePort()),
      webapi: opts.webapiPort ?? (await freePort()),
      gatewayHttp: opts.gatewayHttpPort ?? (await freePort()),
      policyHttp: opts.policyHttpPort ?? (await freePort()),
      userStatusHttp: await freePort(),
      presenceHttp: await freePort(),
    };
    const p = new Platform(opts, nats, redis, ports);
    try {
      await p.boot();
    } catch (e) {
      await p.stop();
      throw e;
    }
    return p;
  }

  private async boot(): Promise<void> {
    const { dir, users } = this.opts;
    this.adminToken = `demo-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, 'admin.token'), this.adminToken, { mode: 0o600 });
    // An ES256 key for login/e-signature assertions (kept across demo runs, like the demo's bands).
    const signingKey = join(dir, 'assertion-signing.pem');
    if (!existsSync(signingKey)) {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      writeFileSync(signingKey, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    }
    writeUsersFile(join(dir, 'users.yaml'), users);
    const ldap = this.opts.ldap;
    if (ldap) writeFileSync(join(dir, 'ldap.password'), ldap.bindPassword, { mode: 0o600 });
    const directory = ldap
      ? `directory = "ldap"

[ldap]
url = "${ldap.url}"
base_dn = "${ldap.baseDn}"
bind_dn = "${ldap.bindDn}"
bind_password_file = "ldap.password"
ca_file = "${ldap.caFile}"
`
      : `directory = "file"
users_file = "users.yaml"
`;
    writeFileSync(
      join(dir, 'nymi_agent.toml'),
      `# Generated by the Tapgate demo/benchmark.
[agent]
log_level = "${this.opts.logLevel ?? 'info'}"
port = ${this.ports.agent}

[webapi]
port = ${this.ports.webapi}

[nats]
servers = ["${this.nats.url}"]

[redis]
${this.redisToml()}

[assertions]
signing_key_files = ["assertion-signing.pem"]

[policy]
admin_token_file = "admin.token"
${this.opts.bootstrapAdmin ? `bootstrap_admin_file = "${BOOTSTRAP_ADMIN_FILE}"\n` : ''}${this.opts.adminGroup ? `admin_group = ${JSON.stringify(this.opts.adminGroup)}\n` : ''}${this.opts.extraToml ?? ''}

[user_status]
cache_expiry_seconds = ${this.opts.userStatusCacheExpirySeconds ?? 30}
${directory}`,
    );
    const start = (name: string, script: string, httpPort: number) => {
      this.starters.set(name, () => start(name, script, httpPort));
      return this.startProgram({
        name,
        script,
        env: {
          // The demo, the benchmark and the end-to-end tests stop their gateway at once (a drain of the
          // default 5 s or more would outlast the 5 s that stop() gives a program); tests may set them.
          ...(name === 'ws-gateway' ? NO_GATEWAY_DRAIN_ENV : {}),
          ...this.opts.env,
          TAPGATE_CONFIG: join(dir, 'nymi_agent.toml'),
          TAPGATE_HTTP_PORT: String(httpPort),
          TAPGATE_HTTP_HOST: '127.0.0.1',
          ...(this.opts.nodeOptions?.[name] ? { NODE_OPTIONS: this.opts.nodeOptions[name] } : {}),
        },
        readyUrl: `http://127.0.0.1:${httpPort}/readyz`,
      }).then((proc) => {
        this.processes.push(proc);
        return proc;
      });
    };
    await Promise.all([
      start('user-status', 'services/user-status/dist/main.js', this.ports.userStatusHttp),
      start('presence', 'services/presence/dist/main.js', this.ports.presenceHttp),
    ]);
    await start('policy', 'services/policy/dist/main.js', this.ports.policyHttp);
    await start('ws-gateway', 'services/ws-gateway/dist/main.js', this.ports.gatewayHttp);
  }

  /** The image template services run from (`serviceImage` or TAPGATE_SERVICE_IMAGE), if any. */
  get serviceImage(): string | undefined {
    return this.opts.serviceImage ?? (process.env.TAPGATE_SERVICE_IMAGE || undefined);
  }

  /**
   * Starts a Tapgate program (a service, or a tool such as the demo's endpoint node) that uses this
   * platform, logging to <dir>/logs/<name>.log: from the repository's dist, or, when the platform runs
   * images, from the image named after `name` with the image's USER and CMD (`args` follow the CMD) and
   * the platform folder mounted where the chart mounts the config; host paths under that folder, in
   * `env` values and `args`, are rewritten to their place in the container.
   */
  async startProgram(opts: {
    name: string;
    script: string;
    args?: string[];
    env: Record<string, string>;
    readyUrl?: string;
  }): Promise<ServiceProcess> {
    const { dir } = this.opts;
    const logFile = join(dir, 'logs', `${opts.name}.log`);
    const image = this.serviceImage;
    if (!image) return startServiceProcess({ ...opts, logFile });
    const inContainer = (v: string) => (v.startsWith(`${dir}/`) ? IMAGE_CONFIG_DIR + v.slice(dir.length) : v);
    const programImage = image.replaceAll('{service}', opts.name);
    // Files written since the last start (a terminal credential, say) are handed over as well.
    this.prepareForImage(programImage);
    return startImageProcess({
      name: opts.name,
      image: programImage,
      args: opts.args?.map(inContainer),
      env: {
        ...Object.fromEntries(Object.entries(opts.env).map(([k, v]) => [k, inContainer(v)])),
        // The test runner's log level; the host environment is not passed into a container.
        ...(process.env.TAPGATE_LOG_LEVEL ? { TAPGATE_LOG_LEVEL: process.env.TAPGATE_LOG_LEVEL } : {}),
        ...(this.opts.ldap ? { TAPGATE_LDAP_CA_FILE: IMAGE_LDAP_CA_FILE } : {}),
      },
      mounts: [{ host: dir, container: IMAGE_CONFIG_DIR }],
      logFile,
      readyUrl: opts.readyUrl,
    });
  }

  /**
   * For a program run from an image: the platform folder is mounted at the chart's config folder, the
   * LDAP CA is copied to where the chart mounts it, and every file is handed to the image's non-root user
   * (as the chart's fsGroup does), who must read the config and may write the bootstrap code.
   */
  private prepareForImage(image: string): void {
    const { dir } = this.opts;
    if (this.opts.ldap) {
      mkdirSync(join(dir, 'ldap-ca'), { recursive: true });
      copyFileSync(this.opts.ldap.caFile, join(dir, 'ldap-ca', 'ca.crt'));
    }
    const [uid, gid = uid] = imageRunConfig(image).user.split(':').map(Number);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`${image}: USER is not numeric`);
    const chownTree = (path: string) => {
      chownSync(path, uid, gid);
      for (const entry of readdirSync(path, { withFileTypes: true })) {
        if (entry.isDirectory()) chownTree(join(path, entry.name));
        else chownSync(join(path, entry.name), uid, gid);
      }
    };
    chownTree(dir);
  }

  /** Stops a service process (if running) and starts it again with the same config. */
  async restart(name: string): Promise<ServiceProcess> {
    const old = this.processes.find((x) => x.name === name);
    if (old) {
      await old.stop();
      this.processes.splice(this.processes.indexOf(old), 1);
    }
    const starter = this.starters.get(name);
    if (!starter) throw new Error(`no service ${name}`);
    return starter();
  }

  /** The policy service's address (REST API and console). */
  get policyUrl(): string {
    return `http://127.0.0.1:${this.ports.policyHttp}`;
  }

  /** The bootstrap administrator's one-time code (with `bootstrapAdmin`), as the policy service wrote it. */
  bootstrapAdminCode(): string {
    return readFileSync(join(this.opts.dir, BOOTSTRAP_ADMIN_FILE), 'utf8').trim();
  }

  /** The gateway's JWKS: the public keys NEA servers verify login and e-signature assertions with. */
  get jwksUrl(): string {
    return `http://127.0.0.1:${this.ports.gatewayHttp}/.well-known/jwks.json`;
  }

  process(name: string): ServiceProcess {
    const p = this.processes.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  /** Calls the policy service's REST API as the configured administrator. */
  async api<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.ports.policyHttp}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private redisToml(): string {
    const r = this.redisStore;
    if (!(r instanceof RedisSentinelSet)) return `url = "${r.url}"`;
    const sentinels = r.sentinels.map((a) => `"${a.host}:${a.port}"`).join(', ');
    return `sentinels = [${sentinels}]\nmaster_name = "${r.masterName}"`;
  }

  /**
   * Registers how to close a client a test opened against this platform (an endpoint, an NEA socket).
   * stop() closes it before the services stop: a test that fails before its own cleanup would otherwise
   * leave a client reconnecting forever, which keeps the test file's process alive.
   */
  closeOnStop(close: () => unknown): void {
    this.clientClosers.add(close);
  }

  async stop(): Promise<void> {
    const closers = [...this.clientClosers];
    this.clientClosers.clear();
    await Promise.allSettled(closers.map(async (close) => close()));
    for (const p of [...this.processes].reverse()) await p.stop().catch(() => undefined);
    const r = this.redisStore;
    await (r instanceof RedisSentinelSet ? r.stop() : r.dispose()).catch(() => undefined);
    await this.nats.dispose().catch(() => undefined);
  }
}
