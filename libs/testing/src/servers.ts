import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports';
import { spawnServer, type ManagedProcess } from './process';

/** A server a test owns: it can stop and restart it on the same port. */
export interface TestServer {
  readonly port: number;
  readonly url: string;
  /** NATS only: the JetStream store folder (`-sd`), for tests that inspect or damage files on disk. */
  readonly storeDir?: string;
  stop(): Promise<void>;
  /** Starts it again on the same port (and, for NATS, the same JetStream store). */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  dispose(): Promise<void>;
  /**
   * Freezes the process (SIGSTOP) or thaws it (SIGCONT): its sockets stay open and nothing answers, as
   * with a server behind a network partition (no reset reaches the clients).
   */
  freeze(frozen: boolean): void;
}

function binary(name: string): string {
  return process.env[`TAPGATE_${name.toUpperCase().replace('-', '_')}_BIN`] ?? name;
}

/**
 * A server binary on a free port with its own temporary folder, started now; `start()` brings it back on
 * the same port with the same folder, so a test can restart it and find its data.
 */
async function startOwned(
  name: 'nats-server' | 'redis-server',
  scheme: 'nats' | 'redis',
  args: (port: number, dir: string) => string[],
  opts: { exposeDir?: boolean } = {},
): Promise<TestServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `tapgate-${scheme}-`));
  let proc: ManagedProcess | undefined;
  const server: TestServer = {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    ...(opts.exposeDir ? { storeDir: dir } : {}),
    async start() {
      proc = await spawnServer(binary(name), args(port, dir), port);
    },
    async stop() {
      // A frozen process would hold a SIGTERM until it is thawed.
      proc?.child.kill('SIGCONT');
      await proc?.stop();
      proc = undefined;
    },
    async dispose() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
    freeze(frozen) {
      if (!proc) throw new Error(`${name} is not running`);
      proc.child.kill(frozen ? 'SIGSTOP' : 'SIGCONT');
    },
  };
  await server.start();
  return server;
}

/** Starts a private nats-server (JetStream on, store in a temporary folder) on a free port. */
export async function startNats(opts: { jetstream?: boolean } = {}): Promise<TestServer> {
  const js = opts.jetstream !== false;
  return startOwned(
    'nats-server',
    'nats',
    (port, dir) => ['-a', '127.0.0.1', '-p', String(port), ...(js ? ['-js', '-sd', dir] : [])],
    { exposeDir: js },
  );
}

/** Starts a private redis-server (no persistence) on a free port. */
export async function startRedis(): Promise<TestServer> {
  return startOwned('redis-server', 'redis', (port, dir) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
  ]);
}
