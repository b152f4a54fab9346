import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, sleep } from './ports';
import { canConnect, spawnServer, type ManagedProcess } from './process';

/**
 * Starts `cmd args` and resolves once it accepts TCP connections on `port`. The default runs a local
 * child; on the multi-host harness pass `(cmd, args, o) => host.run(cmd, args, o)` (TestHost.run).
 */
export type SpawnProcess = (cmd: string, args: string[], opts: { port: number }) => Promise<ManagedProcess>;

export interface RedisSentinelOptions {
  /** The address every process binds to and announces (default 127.0.0.1). */
  address?: string;
  spawn?: SpawnProcess;
  /** The Sentinel master group name (default "tapgate", as `[redis] master_name`). */
  masterName?: string;
  /** requirepass of primary and replica (and the password Sentinels use to reach them). */
  password?: string;
  /** requirepass of the Sentinels themselves. */
  sentinelPassword?: string;
  /**
   * How long a silent primary takes to count as down (default 5000 ms, as the chart sets). Not much
   * less: a Sentinel that was starved of CPU for 2 s enters TILT and acts on nothing for 30 s, and after
   * it promotes only a replica that lost its primary less than 10 x this (plus the time the primary has
   * been seen down) ago. With 1000 ms, one such pause during an outage left no failover at all.
   */
  downAfterMs?: number;
  /** Sentinel failover-timeout (default 5000 ms). */
  failoverTimeoutMs?: number;
  /**
   * Where each process runs, in the order primary, replica, Sentinel 1-3 (five entries): its address
   * and how it is started (e.g. on different TestHosts). Without it all five use `address` and `spawn`.
   */
  placement?: RedisSentinelPlacement[];
}

/** The address a process of the set binds to and announces, and how it is started there. */
export interface RedisSentinelPlacement {
  address: string;
  spawn: SpawnProcess;
}

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

interface Node extends RedisNodeAddress {
  spawn: SpawnProcess;
  proc?: ManagedProcess;
}

const SENTINELS = 3;
const QUORUM = 2;
const DEFAULT_DOWN_AFTER_MS = 5000;

/**
 * A gross bound on a failover after SIGKILL of the primary, for tests: a Sentinel's TILT (30 s, after
 * it was starved of CPU on a loaded machine) plus down-after, the election and a retried failover.
 * Quiet, a failover takes down-after plus 1-2 s.
 */
export const SENTINEL_FAILOVER_BOUND_MS = 75_000;

/** Fields of a Sentinel reply given as a flat [name, value, ...] array. */
function fieldsOf(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const items = Array.isArray(reply) ? (reply as unknown[]) : [];
  for (let i = 0; i + 1 < items.length; i += 2) out[String(items[i])] = String(items[i + 1]);
  return out;
}

/** One `key:value` line of an INFO section. */
function infoField(info: string, key: string): string | undefined {
  return new RegExp(`^${key}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/**
 * A Redis primary, one replica and three Sentinels (quorum 2) on free ports, each its own process
 * with short failure detection so a test sees a failover in seconds. Every wait is bounded in time.
 */
export class RedisSentinelSet {
  private current: Node;

  private constructor(
    private readonly dir: string,
    private readonly opts: Required<Pick<RedisSentinelOptions, 'address' | 'masterName' | 'spawn'>> &
      RedisSentinelOptions,
    private readonly data: Node[],
    private readonly sentinelNodes: Node[],
  ) {
    this.current = data[0]!;
  }

  static async start(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
    const address = options.address ?? '127.0.0.1';
    const spawn: SpawnProcess =
      options.spawn ??
      ((cmd, args, o) => spawnServer(cmd, args, o.port, { ready: () => canConnect(o.port, address) }));
    const opts = { ...options, address, spawn, masterName: options.masterName ?? 'tapgate' };
    const ports: number[] = [];
    while (ports.length < 2 + SENTINELS) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const placement = options.placement ?? ports.map(() => ({ address, spawn }));
    if (placement.length !== ports.length) {
      throw new Error(`RedisSentinelSet placement needs ${ports.length} entries, got ${placement.length}`);
    }
    const nodes = ports.map((port, i): Node => ({
      host: placement[i].address,
      port,
      spawn: placement[i].spawn,
    }));
    const set = new RedisSentinelSet(
      mkdtempSync(join(tmpdir(), 'tapgate-redis-sentinel-')),
      opts,
      nodes.slice(0, 2),
      nodes.slice(2),
    );
    try {
      await set.startData(set.data[0]);
      await set.startData(set.data[1], set.data[0]);
      await Promise.all(set.sentinelNodes.map((s, i) => set.startSentinel(s, i)));
      await set.waitUntilMonitored();
    } catch (e) {
      await set.stop();
      throw e;
    }
    return set;
  }

  /** The Sentinels' addresses, as `[redis] sentinels` lists them. */
  get sentinels(): RedisNodeAddress[] {
    return this.sentinelNodes.map(({ host, port }) => ({ host, port }));
  }

  get masterName(): string {
    return this.opts.masterName;
  }

  /** The primary as of the last start or failover this harness saw. */
  primary(): RedisNodeAddress {
    return { host: this.current.host, port: this.current.port };
  }

  /** The other data server (the replica until a failover promotes it). */
  replica(): RedisNodeAddress {
    const other = this.data.find((n) => n !== this.current)!;
    return { host: other.host, port: other.port };
  }

  /** Kills the primary with SIGKILL (no goodbye to anyone) and returns its address. */
  async killPrimary(): Promise<RedisNodeAddress> {
    const killed = this.current;
    await killed.proc?.stop('SIGKILL');
    killed.proc = undefined;
    return { host: killed.host, port: killed.port };
  }

  /**
   * Freezes Sentinel `index` (SIGSTOP) or thaws it (SIGCONT): it holds its connections and answers
   * nothing, as a Sentinel on a stalled machine. Processes started by the default spawn only.
   */
  freezeSentinel(index: number, frozen: boolean): void {
    const child = this.sentinelNodes[index]?.proc?.child;
    if (!child) throw new Error(`Sentinel ${index} is not running`);
    child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
  }

  /**
   * Asks a Sentinel for a failover with the primary still running (as an operator's `SENTINEL FAILOVER`):
   * the old primary becomes a replica and answers writes with READONLY. Follow with waitForFailover.
   */
  async manualFailover(): Promise<void> {
    await this.command(
      this.sentinelNodes[0],
      this.opts.sentinelPassword,
      'sentinel',
      'failover',
      this.opts.masterName,
    );
  }

  /**
   * Waits until a quorum of Sentinels names a primary other than the one before and that server says it
   * is a primary; returns its port.
   */
  async waitForFailover(timeoutMs = SENTINEL_FAILOVER_BOUND_MS): Promise<number> {
    const before = this.current;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const named = await Promise.all(this.sentinelNodes.map((s) => this.masterOf(s)));
      const votes = named.filter((p) => p !== undefined && p !== before.port);
      const port = votes[0];
      if (port !== undefined && votes.filter((p) => p === port).length >= QUORUM) {
        const next = this.data.find((n) => n.port === port);
        if (next && (await this.roleOf(next)) === 'master') {
          this.current = next;
          return port;
        }
      }
      await sleep(100);
    }
    throw new Error(
      `no Sentinel failover away from port ${before.port} within ${timeoutMs} ms: ${await this.describe()}`,
    );
  }

  /**
   * What each Sentinel thinks, for a failing test's message: the primary it names, its flags, the state
   * of a failover in progress and whether it is in TILT (it then acts on nothing for 30 s).
   */
  async describe(): Promise<string> {
    const name = this.opts.masterName;
    const pw = this.opts.sentinelPassword;
    const states = await Promise.all(
      this.sentinelNodes.map(async (s) => {
        try {
          const m = fieldsOf(await this.command(s, pw, 'sentinel', 'master', name));
          const tilt = infoField(String(await this.command(s, pw, 'info', 'sentinel')), 'sentinel_tilt');
          const failover = m['failover-state'] ? ` failover=${m['failover-state']}` : '';
          return `Sentinel :${s.port} tilt=${tilt} primary=:${m.port} flags=${m.flags}${failover}`;
        } catch (e) {
          return `Sentinel :${s.port} ${(e as Error).message}`;
        }
      }),
    );
    return states.join('; ');
  }

  /** Waits until the replica has applied every write the primary had when this was called. */
  async waitForReplication(timeoutMs = 10_000): Promise<void> {
    const info = await this.command(this.current, this.opts.password, 'info', 'replication');
    const target = Number(infoField(String(info), 'master_repl_offset'));
    const replica = this.data.find((n) => n !== this.current)!;
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = String(
        await this.command(replica, this.opts.password, 'info', 'replication').catch(() => ''),
      );
      if (Number(infoField(r, 'slave_repl_offset') ?? -1) >= target) return;
      await sleep(50);
    }
    throw new Error(`replica did not reach replication offset ${target} within ${timeoutMs} ms`);
  }

  /** Stops every process (SIGKILL) and removes the configuration folder. */
  async stop(): Promise<void> {
    // SIGKILL ends a frozen process too, but thawing first lets it close its sockets like the others.
    for (const n of this.sentinelNodes) n.proc?.child.kill('SIGCONT');
    await Promise.all([...this.data, ...this.sentinelNodes].map(async (n) => n.proc?.stop('SIGKILL')));
    for (const n of [...this.data, ...this.sentinelNodes]) n.proc = undefined;
    rmSync(this.dir, { recursive: true, force: true });
  }

  private bin(): string {
    return process.env.TAPGATE_REDIS_SERVER_BIN ?? 'redis-server';
  }

  private async startData(n: Node, primary?: Node): Promise<void> {
    const pw = this.opts.password;
    const args = [
      '--port', String(n.port),
      '--bind', n.host,
      '--protected-mode', 'no',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--dbfilename', `dump-${n.port}.rdb`,
      '--replica-announce-ip', n.host,
      ...(pw ? ['--requirepass', pw, '--masterauth', pw] : []),
      ...(primary ? ['--replicaof', primary.host, String(primary.port)] : []),
    ]; // prettier-ignore
    n.proc = await n.spawn(this.bin(), args, { port: n.port });
  }

  private async startSentinel(n: Node, index: number): Promise<void> {
    const primary = this.data[0];
    const name = this.opts.masterName;
    // Sentinel rewrites its file (what it learns), so each one has its own.
    const file = join(this.dir, `sentinel-${index}.conf`);
    const lines = [
      `port ${n.port}`,
      `bind ${n.host}`,
      'protected-mode no',
      `dir ${this.dir}`,
      `sentinel announce-ip ${n.host}`,
      `sentinel monitor ${name} ${primary.host} ${primary.port} ${QUORUM}`,
      `sentinel down-after-milliseconds ${name} ${this.opts.downAfterMs ?? DEFAULT_DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${name} ${this.opts.failoverTimeoutMs ?? 5000}`,
      `sentinel parallel-syncs ${name} 1`,
      ...(this.opts.password ? [`sentinel auth-pass ${name} ${this.opts.password}`] : []),
      // Sentinels reach each other with their own requirepass.
      ...(this.opts.sentinelPassword ? [`requirepass ${this.opts.sentinelPassword}`] : []),
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    n.proc = await n.spawn(this.bin(), [file, '--sentinel'], { port: n.port });
  }

  /** Every Sentinel knows the primary, the replica (in sync) and the two other Sentinels. */
  private async waitUntilMonitored(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const states = await Promise.all(
        this.sentinelNodes.map((s) =>
          this.command(s, this.opts.sentinelPassword, 'sentinel', 'master', this.opts.masterName)
            .then(fieldsOf)
            .catch((e: Error): Record<string, string> => ({ error: e.message })),
        ),
      );
      const replicaInfo = String(
        await this.command(this.data[1], this.opts.password, 'info', 'replication').catch(() => ''),
      );
      const ok = states.every(
        (m) =>
          m['num-slaves'] === '1' &&
          m['num-other-sentinels'] === String(SENTINELS - 1) &&
          m.flags === 'master',
      );
      if (ok && infoField(replicaInfo, 'master_link_status') === 'up') return;
      last = JSON.stringify(
        states.map(
          (m) => m.error ?? `${m.flags} slaves=${m['num-slaves']} others=${m['num-other-sentinels']}`,
        ),
      );
      await sleep(100);
    }
    throw new Error(`Sentinels did not settle within ${timeoutMs} ms: ${last}`);
  }

  private async masterOf(s: Node): Promise<number | undefined> {
    const reply = await this.command(
      s,
      this.opts.sentinelPassword,
      'sentinel',
      'get-master-addr-by-name',
      this.opts.masterName,
    ).catch(() => undefined);
    return Array.isArray(reply) ? Number(reply[1]) : undefined;
  }

  private async roleOf(n: Node): Promise<string | undefined> {
    const reply = await this.command(n, this.opts.password, 'role').catch(() => undefined);
    return Array.isArray(reply) ? String(reply[0]) : undefined;
  }

  /** One command on a fresh connection that gives up within about a second. */
  private async command(n: RedisNodeAddress, password: string | undefined, cmd: string, ...args: string[]) {
    const client = new Redis({
      host: n.host,
      port: n.port,
      password,
      lazyConnect: true,
      connectTimeout: 1000,
      commandTimeout: 1000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: true,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return await client.call(cmd, ...args);
    } finally {
      client.disconnect();
    }
  }
}
