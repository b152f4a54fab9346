import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostProcess, TestHost } from './hosts';
import { waitFor } from './ports';

// Each host is its own network namespace, so every node uses the standard ports on its own address.
const CLIENT_PORT = 4222;
const ROUTE_PORT = 6222;
const MONITOR_PORT = 8222;

export interface NatsNode {
  readonly host: TestHost;
  /** Server name (`-n`), as JetStream reports leaders. */
  readonly name: string;
  readonly url: string;
  readonly storeDir: string;
  running(): boolean;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number; replicas?: Array<{ current?: boolean }> };
  account_details?: Array<{
    stream_detail?: Array<{
      name: string;
      cluster?: { leader?: string };
      state?: { messages?: number; first_seq?: number; last_seq?: number };
    }>;
  }>;
}

/** One node's copy of a stream, as that node's monitoring port reports it. */
export interface StreamReplicaState {
  node: string;
  stream: string;
  leader: string | undefined;
  messages: number;
  firstSeq: number;
  lastSeq: number;
}

/**
 * A NATS cluster, one nats-server per host with JetStream (its own store folder) and routes to every
 * other node. Clients are given `servers` (every node's URL). `restart` brings a node back on its
 * store, as a host that rebooted.
 */
export class NatsCluster {
  private constructor(
    private readonly procs: Map<string, HostProcess>,
    readonly nodes: NatsNode[],
    private readonly root: string,
    private readonly clusterName: string,
    private readonly logDir?: string,
    private readonly configFile?: string,
  ) {}

  /**
   * `logDir`: each node's output goes to <logDir>/nats-<name>.log (appended across restarts).
   * `pingIntervalS`: nats-server `ping_interval` (clients and routes; default 120 s) with `ping_max` 2,
   * so a silent peer (a cut-off host) is dropped after about three intervals.
   */
  static async start(
    hosts: TestHost[],
    opts: { clusterName?: string; logDir?: string; pingIntervalS?: number } = {},
  ): Promise<NatsCluster> {
    if (hosts.length < 1) throw new Error('a NATS cluster needs at least one host');
    const root = mkdtempSync(join(tmpdir(), 'tapgate-nats-cluster-'));
    const procs = new Map<string, HostProcess>();
    const nodes: NatsNode[] = hosts.map((host, i) => ({
      host,
      name: `n${i + 1}`,
      url: `nats://${host.address}:${CLIENT_PORT}`,
      storeDir: join(root, `n${i + 1}`),
      running: () => procs.has(`n${i + 1}`),
    }));
    let config: string | undefined;
    if (opts.pingIntervalS !== undefined) {
      config = join(root, 'nats.conf');
      writeFileSync(config, `ping_interval: "${opts.pingIntervalS}s"\nping_max: 2\n`);
    }
    const cluster = new NatsCluster(
      procs,
      nodes,
      root,
      opts.clusterName ?? 'tapgate-test',
      opts.logDir,
      config,
    );
    try {
      await Promise.all(nodes.map((n) => cluster.startNode(n)));
      await cluster.waitForMetaLeader();
      await cluster.waitForPeers();
    } catch (e) {
      await cluster.dispose();
      throw e;
    }
    return cluster;
  }

  get servers(): string[] {
    return this.nodes.map((n) => n.url);
  }

  node(name: string): NatsNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no NATS node ${name}`);
    return n;
  }

  private async startNode(n: NatsNode): Promise<void> {
    const routes = this.nodes
      .filter((o) => o !== n)
      .map((o) => `nats://${o.host.address}:${ROUTE_PORT}`)
      .join(',');
    const args = [
      ...(this.configFile ? ['-c', this.configFile] : []),
      '-n', n.name,
      '-a', n.host.address,
      '-p', String(CLIENT_PORT),
      '-m', String(MONITOR_PORT),
      '-js', '-sd', n.storeDir,
      '--cluster_name', this.clusterName,
      '--cluster', `nats://${n.host.address}:${ROUTE_PORT}`,
      ...(routes ? ['--routes', routes] : []),
    ]; // prettier-ignore
    const bin = process.env.TAPGATE_NATS_SERVER_BIN ?? 'nats-server';
    const proc = await n.host.run(bin, args, { port: CLIENT_PORT });
    if (this.logDir) {
      const log = createWriteStream(join(this.logDir, `nats-${n.name}.log`), { flags: 'a' });
      log.write(proc.output());
      proc.child.stdout?.pipe(log);
      proc.child.stderr?.pipe(log);
    }
    this.procs.set(n.name, proc);
    proc.child.once('exit', () => {
      if (this.procs.get(n.name) === proc) this.procs.delete(n.name);
    });
  }

  /** Stops one node's nats-server with `signal` (SIGKILL: as the process crashing), leaving its host up. */
  async kill(name: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.procs.get(this.node(name).name)?.stop(signal);
  }

  /** Starts a stopped node again on its store (as a host coming back). */
  async restart(name: string): Promise<void> {
    const n = this.node(name);
    if (this.procs.has(name)) return;
    await this.startNode(n);
  }

  /** Its monitoring /jsz, or undefined when it does not answer within a second. */
  async jsz(n: NatsNode): Promise<Jsz | undefined> {
    return fetch(`http://${n.host.address}:${MONITOR_PORT}/jsz`, { signal: AbortSignal.timeout(1000) })
      .then((r) => (r.ok ? (r.json() as Promise<Jsz>) : undefined))
      .catch(() => undefined);
  }

  /**
   * Every running, reachable node's copy of every stream (its /jsz): where copies disagree on their last
   * sequence, they have diverged or one is catching up.
   */
  async streamStates(): Promise<StreamReplicaState[]> {
    const out: StreamReplicaState[] = [];
    for (const n of this.nodes) {
      if (!n.running() || n.host.isCutOff) continue;
      const jsz = await fetch(`http://${n.host.address}:${MONITOR_PORT}/jsz?accounts=true&streams=true`, {
        signal: AbortSignal.timeout(2000),
      })
        .then((r) => (r.ok ? (r.json() as Promise<Jsz>) : undefined))
        .catch(() => undefined);
      for (const a of jsz?.account_details ?? []) {
        for (const st of a.stream_detail ?? []) {
          out.push({
            node: n.name,
            stream: st.name,
            leader: st.cluster?.leader,
            messages: st.state?.messages ?? 0,
            firstSeq: st.state?.first_seq ?? 0,
            lastSeq: st.state?.last_seq ?? 0,
          });
        }
      }
    }
    return out;
  }

  /** The JetStream meta leader's node, as a reachable running node reports it. */
  async metaLeader(): Promise<NatsNode | undefined> {
    for (const n of this.nodes) {
      if (!n.running() || n.host.isCutOff) continue;
      const leader = (await this.jsz(n))?.meta_cluster?.leader;
      if (leader) return this.nodes.find((x) => x.name === leader);
    }
    return undefined;
  }

  /** Waits (bounded) until the running nodes agree on a JetStream meta leader. */
  async waitForMetaLeader(timeoutMs = 30_000): Promise<NatsNode> {
    return waitFor(() => this.metaLeader(), { timeoutMs, intervalMs: 200, what: 'a JetStream meta leader' });
  }

  /**
   * Waits (bounded) until the meta leader sees every running node as a current peer: before that,
   * creating an R3 asset fails (no responders, or too few peers).
   */
  async waitForPeers(timeoutMs = 30_000): Promise<void> {
    const running = () => this.nodes.filter((n) => n.running() && !n.host.isCutOff).length;
    await waitFor(
      async () => {
        const leader = await this.metaLeader();
        const meta = leader ? (await this.jsz(leader))?.meta_cluster : undefined;
        const current = (meta?.replicas ?? []).filter((r) => r.current).length;
        if (!meta || current + 1 < running()) return false;
        // /healthz answers 200 once the node's JetStream is current, i.e. it serves the JetStream API.
        // js-server-only: the node and the meta group only; without it one stale ephemeral consumer
        // (a killed client's KV watcher, until its inactivity threshold) fails the check for minutes.
        const healthy = await Promise.all(
          this.nodes
            .filter((n) => n.running() && !n.host.isCutOff)
            .map((n) =>
              fetch(`http://${n.host.address}:${MONITOR_PORT}/healthz?js-server-only=true`, {
                signal: AbortSignal.timeout(1000),
              }).then(
                (r) => r.ok,
                () => false,
              ),
            ),
        );
        return healthy.every(Boolean);
      },
      { timeoutMs, intervalMs: 200, what: 'every running NATS node a current JetStream peer' },
    );
  }

  /** Stops every node and removes the stores. */
  async dispose(): Promise<void> {
    await Promise.all([...this.procs.values()].map((p) => p.stop('SIGKILL').catch(() => undefined)));
    this.procs.clear();
    rmSync(this.root, { recursive: true, force: true });
  }
}
