import { execFileSync, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { connect } from 'node:net';
import { sleep } from './ports';
import type { ManagedProcess } from './process';

// Every name this harness gives the kernel starts with `tg<pid>` (interface names are at most 15
// characters): parallel test processes never collide, and what a killed run left behind is found by
// its pid and removed by the next run.
const NAME_PREFIX = 'tg';
const OWN = `${NAME_PREFIX}${process.pid}`;
const STALE_NETNS = /^tg(\d+)[a-z]h\d+$/;
const STALE_LINK = /^tg(\d+)[a-z](?:br|v\d+)$/;
/** Networks made by this process so far: a letter per network keeps their names apart. */
let networksMade = 0;
/** Bounds of every loop here: attempts at a free /24, and how long a host's processes get to exit. */
const SUBNET_ATTEMPTS = 20;
const KILL_WAIT_MS = 5_000;

function ip(args: string[], opts: { ns?: string; quiet?: boolean } = {}): string {
  const argv = opts.ns ? ['netns', 'exec', opts.ns, 'ip', ...args] : args;
  try {
    return execFileSync('ip', argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    if (opts.quiet) return '';
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${argv.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process ids running in a network namespace (`ip netns pids`). */
function pidsIn(ns: string): number[] {
  return ip(['netns', 'pids', ns], { quiet: true })
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}

function killNamespace(ns: string, signal: NodeJS.Signals): void {
  for (const pid of pidsIn(ns)) {
    try {
      process.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/**
 * Removes namespaces and links an earlier, killed test run left behind (its pid no longer runs), so a
 * SIGKILLed test does not leak hosts into the next one.
 */
export function removeStaleHosts(): void {
  for (const line of ip(['netns', 'list'], { quiet: true }).split('\n')) {
    const name = line.split(' ')[0];
    const m = STALE_NETNS.exec(name);
    if (m && !alive(Number(m[1]))) {
      killNamespace(name, 'SIGKILL');
      ip(['netns', 'del', name], { quiet: true });
    }
  }
  for (const line of ip(['-o', 'link', 'show'], { quiet: true }).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    const m = name ? STALE_LINK.exec(name) : null;
    if (name && m && !alive(Number(m[1]))) ip(['link', 'del', name], { quiet: true });
  }
}

/** A private 10.x.y.0/24 that no address or route of this machine already uses. */
function freeSubnet(): string {
  const used = ip(['-o', 'addr', 'show'], { quiet: true }) + ip(['route', 'show'], { quiet: true });
  for (let i = 0; i < SUBNET_ATTEMPTS; i++) {
    const prefix = `10.${randomInt(64, 250)}.${randomInt(1, 250)}`;
    if (!used.includes(`${prefix}.`)) return prefix;
  }
  throw new Error('no free 10.x.y.0/24 for the test hosts');
}

let hostsProblem: string | undefined | null = null;

/**
 * Why this machine cannot build test hosts (not root, or no network namespaces), or undefined when it
 * can; probed once. Tests skip with it as the reason rather than fail on a machine without the rights.
 */
export function hostsUnavailable(): string | undefined {
  if (hostsProblem !== null) return hostsProblem;
  const ns = `${OWN}yh99`;
  try {
    ip(['netns', 'add', ns]);
    hostsProblem = undefined;
  } catch (e) {
    hostsProblem = `cannot create network namespaces (root / CAP_NET_ADMIN needed): ${(e as Error).message}`;
  } finally {
    ip(['netns', 'del', ns], { quiet: true });
  }
  return hostsProblem;
}

let netemChecked: boolean | undefined;

/**
 * Whether `tc qdisc ... netem` works on this kernel (the sch_netem module); probed once on a scratch
 * namespace's loopback. Tests that need latency or loss skip with this as the reason when it is false.
 */
export function netemAvailable(): boolean {
  if (netemChecked !== undefined) return netemChecked;
  const ns = `${OWN}zh99`;
  try {
    ip(['netns', 'add', ns]);
    execFileSync(
      'ip',
      ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'],
      {
        stdio: 'ignore',
      },
    );
    netemChecked = true;
  } catch {
    netemChecked = false;
  } finally {
    ip(['netns', 'del', ns], { quiet: true });
  }
  return netemChecked;
}

/**
 * True when something accepts TCP on address:port within `timeoutMs`. A cut-off host answers nothing
 * (no ARP reply), so a plain connect would wait for the kernel's SYN retries, minutes.
 */
export function canReach(address: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** A process started inside a host; `stop` signals it, waits (bounded) and kills it if it stays. */
export interface HostProcess extends ManagedProcess {
  readonly host: TestHost;
}

/** One "host": a network namespace with loopback and one address on the test's bridge. */
export class TestHost {
  private readonly procs = new Set<HostProcess>();
  private cutOff = false;

  constructor(
    readonly index: number,
    /** Network namespace name (`ip netns exec <ns>`). */
    readonly ns: string,
    /** Its address on the bridge, reachable from the test process and every other host. */
    readonly address: string,
    /** The bridge-side end of its veth pair: link down cuts the host off. */
    private readonly bridgePort: string,
  ) {}

  get isCutOff(): boolean {
    return this.cutOff;
  }

  /**
   * Starts `cmd args` inside this host (`ip netns exec`, which execs the program, so the child's pid is
   * the program's). With `port`, waits until it accepts TCP connections on this host's address.
   */
  async run(
    cmd: string,
    args: string[],
    opts: { port?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number; ready?: () => Promise<boolean> } = {},
  ): Promise<HostProcess> {
    const child = spawn('ip', ['netns', 'exec', this.ns, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let out = '';
    const keep = (b: Buffer) => {
      out = (out + b.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.once('error', (e) => {
      out += `\nspawn error: ${e.message}`;
    });
    let exited = false;
    const exitPromise = new Promise<void>((resolve) =>
      child.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    const proc: HostProcess = {
      host: this,
      child,
      output: () => out,
      stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (!exited) {
          child.kill(signal);
          const timer = setTimeout(() => child.kill('SIGKILL'), KILL_WAIT_MS);
          await exitPromise;
          clearTimeout(timer);
        }
        this.procs.delete(proc);
      },
    };
    this.procs.add(proc);
    void exitPromise.then(() => this.procs.delete(proc));
    const ready = opts.ready ?? (opts.port ? () => canReach(this.address, opts.port!) : undefined);
    if (ready) {
      const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
      while (!(await ready())) {
        if (exited || Date.now() > deadline) {
          await proc.stop('SIGKILL');
          throw new Error(`${cmd} did not start on host ${this.address}:\n${out}`);
        }
        await sleep(20);
      }
    }
    return proc;
  }

  /**
   * Kills every process in the host's namespace (not only those started by `run`), as a host losing
   * power would: SIGKILL by default. Resolves once they are gone (at most a few seconds).
   */
  async killAll(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    killNamespace(this.ns, signal);
    const deadline = Date.now() + KILL_WAIT_MS;
    while (pidsIn(this.ns).length > 0 && Date.now() < deadline) await sleep(20);
    if (pidsIn(this.ns).length > 0) killNamespace(this.ns, 'SIGKILL');
    await Promise.all([...this.procs].map((p) => p.stop('SIGKILL')));
  }

  /** Cuts the host off the network (its bridge port down): its processes run on but reach no one. */
  cut(): void {
    ip(['link', 'set', this.bridgePort, 'down']);
    this.cutOff = true;
  }

  /** Connects a cut-off host again. */
  heal(): void {
    ip(['link', 'set', this.bridgePort, 'up']);
    this.cutOff = false;
  }

  /**
   * Adds latency and/or loss to everything the host sends (tc netem on its interface). Throws when the
   * kernel has no netem (see `netemAvailable`); `clearImpairment` removes it.
   */
  impair(opts: { delayMs?: number; jitterMs?: number; lossPercent?: number }): void {
    if (!netemAvailable()) throw new Error('tc netem is not available on this kernel (no sch_netem)');
    const args = ['qdisc', 'replace', 'dev', 'eth0', 'root', 'netem'];
    if (opts.delayMs) {
      args.push('delay', `${opts.delayMs}ms`, ...(opts.jitterMs ? [`${opts.jitterMs}ms`] : []));
    }
    if (opts.lossPercent) args.push('loss', `${opts.lossPercent}%`);
    execFileSync('ip', ['netns', 'exec', this.ns, 'tc', ...args], { stdio: 'ignore' });
  }

  clearImpairment(): void {
    try {
      execFileSync('ip', ['netns', 'exec', this.ns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'], {
        stdio: 'ignore',
      });
    } catch {
      // None set.
    }
  }
}

/**
 * N hosts on one machine: each a network namespace with its own address on a private /24, joined by
 * a bridge in the test's namespace (which holds the bridge's .1 and so reaches every host). Needs root
 * (CAP_NET_ADMIN). `dispose` (also run at process exit) kills every host's processes and removes all
 * namespaces and links, even after a failed test.
 */
export class HostNetwork {
  private disposed = false;
  private readonly onExit = () => this.teardown();

  private constructor(
    readonly hosts: TestHost[],
    /** The test process's address on the bridge. */
    readonly gateway: string,
    private readonly bridge: string,
    private readonly own: string,
  ) {
    process.once('exit', this.onExit);
  }

  static create(count: number): HostNetwork {
    if (!Number.isInteger(count) || count < 1 || count > 50) {
      throw new Error(`host count ${count} not in 1..50`);
    }
    if (networksMade >= 25) throw new Error('at most 25 host networks per test process');
    removeStaleHosts();
    const prefix = freeSubnet();
    const own = `${OWN}${String.fromCharCode(97 + networksMade++)}`;
    const bridge = `${own}br`;
    const hosts: TestHost[] = [];
    const net = new HostNetwork(hosts, `${prefix}.1`, bridge, own);
    try {
      ip(['link', 'add', bridge, 'type', 'bridge']);
      ip(['addr', 'add', `${prefix}.1/24`, 'dev', bridge]);
      ip(['link', 'set', bridge, 'up']);
      for (let i = 0; i < count; i++) {
        const ns = `${own}h${i}`;
        const port = `${own}v${i}`;
        const inner = `${own}p${i}`;
        ip(['netns', 'add', ns]);
        ip(['link', 'add', port, 'type', 'veth', 'peer', 'name', inner]);
        ip(['link', 'set', inner, 'netns', ns]);
        ip(['link', 'set', port, 'master', bridge]);
        ip(['link', 'set', port, 'up']);
        ip(['link', 'set', 'lo', 'up'], { ns });
        ip(['link', 'set', inner, 'name', 'eth0'], { ns });
        const address = `${prefix}.${i + 2}`;
        ip(['addr', 'add', `${address}/24`, 'dev', 'eth0'], { ns });
        ip(['link', 'set', 'eth0', 'up'], { ns });
        hosts.push(new TestHost(i, ns, address, port));
      }
    } catch (e) {
      net.teardown();
      throw e;
    }
    return net;
  }

  private teardown(): void {
    if (this.disposed) return;
    this.disposed = true;
    process.removeListener('exit', this.onExit);
    for (const h of this.hosts) killNamespace(h.ns, 'SIGKILL');
    for (const h of this.hosts) ip(['netns', 'del', h.ns], { quiet: true });
    // Deleting a namespace deletes its veth end and so the pair; the bridge is ours to remove.
    for (let i = 0; i < this.hosts.length; i++) ip(['link', 'del', `${this.own}v${i}`], { quiet: true });
    ip(['link', 'del', this.bridge], { quiet: true });
  }

  /** Kills every host's processes and removes the namespaces, links and bridge. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    await Promise.all(this.hosts.map((h) => h.killAll('SIGKILL').catch(() => undefined)));
    this.teardown();
  }
}
