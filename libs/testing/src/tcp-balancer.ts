import { connect, createServer, type Server, type Socket } from 'node:net';

/** A backend of a TcpBalancer; without `readyUrl` it always counts as ready. */
export interface BalancerBackend {
  host: string;
  port: number;
  /** Probed like a Kubernetes readiness probe: HTTP 2xx = ready. */
  readyUrl?: string;
}

/** How often backends are probed (Kubernetes probes every few seconds; tests want it fast). */
const PROBE_INTERVAL_MS = 100;
/** A probe that takes longer fails (generous: the first fetch of a busy test process is slow). */
const PROBE_TIMEOUT_MS = 2000;

/**
 * A TCP load balancer for tests that emulates a Kubernetes Service: each new connection goes to the
 * next backend (round robin) whose readiness probe passed last time; with none ready the connection is
 * refused (reset). Established connections stay where they are when readiness changes, as kube-proxy's
 * conntrack keeps them, so only the backend itself ends them (a drain).
 */
export class TcpBalancer {
  private server: Server | undefined;
  private readonly ready: boolean[];
  private readonly open = new Set<Socket>();
  private probeTimer: NodeJS.Timeout | undefined;
  private next = 0;
  private probing = false;

  constructor(private readonly backends: BalancerBackend[]) {
    if (backends.length === 0) throw new Error('TcpBalancer needs at least one backend');
    this.ready = backends.map((b) => b.readyUrl === undefined);
  }

  /** Probes the backends once, then listens on a free port of 127.0.0.1. */
  async listen(): Promise<void> {
    await this.probe();
    this.probeTimer = setInterval(() => {
      if (this.probing) return;
      this.probing = true;
      void this.probe().finally(() => (this.probing = false));
    }, PROBE_INTERVAL_MS);
    this.probeTimer.unref();
    const server = createServer((client) => this.route(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  }

  get port(): number {
    const addr = this.server?.address();
    if (!addr || typeof addr !== 'object') throw new Error('TcpBalancer is not listening');
    return addr.port;
  }

  /** Stops probing and listening, and cuts every connection. */
  async close(): Promise<void> {
    clearInterval(this.probeTimer);
    for (const s of this.open) s.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async probe(): Promise<void> {
    await Promise.all(
      this.backends.map(async (b, i) => {
        if (b.readyUrl === undefined) return;
        try {
          const res = await fetch(b.readyUrl, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
          await res.arrayBuffer();
          this.ready[i] = res.ok;
        } catch {
          this.ready[i] = false;
        }
      }),
    );
  }

  private pick(): BalancerBackend | undefined {
    for (let n = 0; n < this.backends.length; n++) {
      const i = (this.next + n) % this.backends.length;
      if (this.ready[i]) {
        this.next = i + 1;
        return this.backends[i];
      }
    }
    return undefined;
  }

  private route(client: Socket): void {
    const backend = this.pick();
    if (!backend) {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(backend.port, backend.host);
    for (const s of [client, upstream]) {
      this.open.add(s);
      s.on('close', () => this.open.delete(s));
      s.setNoDelay(true);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    // A failure on either side ends both, as a reset would through a real proxy.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
