import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './ports';
import { canConnect, spawnServer, type ManagedProcess } from './process';

/** vsmartcard's reader driver, as Debian's vsmartcard-vpcd installs it. */
export const VPCD_DRIVER = process.env.TAPGATE_VPCD_DRIVER ?? '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
const PCSCD_BIN = process.env.TAPGATE_PCSCD_BIN ?? '/usr/sbin/pcscd';

/** One vpcd entry in reader.conf: pcscd shows it as two readers, `<name> 00 00` and `<name> 00 01`. */
export interface VirtualReaderPair {
  name: string;
  /** vpcd listens here for the card of `<name> 00 00`, and on port + 1 for `<name> 00 01`. */
  port: number;
}

/** Why pcscd with vpcd cannot run here, or undefined when it can. */
export function pcscStackProblem(): string | undefined {
  if (!existsSync(PCSCD_BIN)) {
    return `${PCSCD_BIN} is missing (Debian package pcscd; scripts/setup.sh installs it)`;
  }
  if (!existsSync(VPCD_DRIVER)) {
    return `${VPCD_DRIVER} is missing (Debian package vsmartcard-vpcd; scripts/setup.sh installs it)`;
  }
  return undefined;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** Two adjacent free TCP ports (vpcd takes port and port + 1). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
  throw new Error('no two adjacent free ports for vpcd');
}

function checkOneEntry(names: string[]): void {
  if (names.length > 1) throw new RangeError('TestPcscd: one vpcd entry per pcscd (two readers) at most');
}

/**
 * A private pcscd with vpcd virtual readers, for tests. pcscd 1.9 has its socket and pid file at fixed
 * places (/run/pcscd, and it does not read PCSCLITE_CSOCK_NAME itself), so each instance runs in its own
 * mount namespace with a temporary folder bound over /run/pcscd: parallel tests never meet, and clients
 * reach it with PCSCLITE_CSOCK_NAME=<socketPath> (the client library honours it). Needs unshare(1):
 * as root, or an unprivileged user where user namespaces are enabled.
 */
export class TestPcscd {
  private proc: ManagedProcess | undefined;

  private constructor(
    private readonly dir: string,
    private pairs: VirtualReaderPair[],
  ) {}

  /**
   * Starts pcscd with the vpcd entry `names[0]` (two readers), or none for `[]`. One entry at most: vpcd
   * keeps its card connections by slot number, so two vpcd entries in one pcscd mix their cards up.
   */
  static async start(names: string[]): Promise<TestPcscd> {
    const problem = pcscStackProblem();
    if (problem) throw new Error(problem);
    checkOneEntry(names);
    const dir = mkdtempSync(join(tmpdir(), 'tapgate-pcscd-'));
    const pairs: VirtualReaderPair[] = [];
    for (const name of names) pairs.push({ name, port: await freePortPair() });
    const pcscd = new TestPcscd(dir, pairs);
    await pcscd.start();
    return pcscd;
  }

  /** Where clients find this pcscd: set PCSCLITE_CSOCK_NAME to it before the first PC/SC call. */
  get socketPath(): string {
    return join(this.dir, 'run', 'pcscd.comm');
  }

  get readers(): readonly VirtualReaderPair[] {
    return this.pairs;
  }

  /** The vpcd port for a reader (`slot` 0 = `<name> 00 00`, 1 = `<name> 00 01`). */
  port(name: string, slot: 0 | 1 = 0): number {
    const pair = this.pairs.find((p) => p.name === name);
    if (!pair) throw new RangeError(`no virtual reader ${name}`);
    return pair.port + slot;
  }

  output(): string {
    return this.proc?.output() ?? '';
  }

  private writeConfig(): string {
    const conf = join(this.dir, 'reader.conf.d');
    const run = join(this.dir, 'run');
    for (const d of [conf, run]) mkdirSync(d, { recursive: true });
    for (const f of readdirSync(conf)) unlinkSync(join(conf, f));
    for (const [i, p] of this.pairs.entries()) {
      writeFileSync(
        join(conf, `vpcd-${i}`),
        `FRIENDLYNAME "${p.name}"\nDEVICENAME /dev/null:0x${p.port.toString(16)}\nLIBPATH ${VPCD_DRIVER}\nCHANNELID 0x${p.port.toString(16)}\n`,
      );
    }
    return conf;
  }

  async start(): Promise<void> {
    const conf = this.writeConfig();
    const run = join(this.dir, 'run');
    const asRoot = process.getuid?.() === 0;
    const script = `mkdir -p /run/pcscd 2>/dev/null; mount --bind "$0" /run/pcscd && exec "$1" -f -c "$2"${process.env.TAPGATE_PCSCD_DEBUG ? ' -d' : ''}`;
    const args = ['--mount', '--propagation', 'private', 'sh', '-c', script, run, PCSCD_BIN, conf];
    this.proc = await spawnServer('unshare', asRoot ? args : ['--map-root-user', ...args], 0, {
      ready: () => canConnect({ path: this.socketPath }),
    });
    // pcscd opens its socket before the readers' drivers have started listening.
    for (const p of this.pairs) {
      const deadline = Date.now() + 5000;
      while (!(await this.listening(p.port)) && Date.now() < deadline) await sleep(20);
    }
  }

  /** True once vpcd listens on the port (checked without connecting, which would insert a card). */
  private async listening(port: number): Promise<boolean> {
    return !(await portFree(port));
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = undefined;
  }

  /** Restarts pcscd with another reader, or none (what readers plugged in or out look like here). */
  async restartWith(names: string[]): Promise<void> {
    checkOneEntry(names);
    await this.stop();
    const kept = new Map(this.pairs.map((p) => [p.name, p]));
    const pairs: VirtualReaderPair[] = [];
    for (const name of names) pairs.push(kept.get(name) ?? { name, port: await freePortPair() });
    this.pairs = pairs;
    await this.start();
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
